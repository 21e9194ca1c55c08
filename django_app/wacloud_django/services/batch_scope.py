"""Questions the receivers of one batch's signals share (services/webhook_batch.py).

Batch processing sends the same signals as one event at a time, after one commit for
the whole batch. A receiver that asks the database "does this contact have X?" per
message may instead ask once for every contact of the batch: :func:`known_absent` says
when the answer for one contact is known to be no. Outside a batch (or for a contact the
batch did not name) it says nothing is known, and the receiver asks as before."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_scope: ContextVar[dict[Any, Any] | None] = ContextVar("wacloud_batch_scope", default=None)


@contextmanager
def batch_scope() -> Iterator[dict[Any, Any]]:
    scope: dict[Any, Any] = {"contacts": set()}
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


def add_contacts(contact_ids: Iterable[int]) -> None:
    """The contacts whose new messages the batch announces."""
    scope = _scope.get()
    if scope is not None:
        scope["contacts"].update(contact_ids)


def remember(key: Any, compute: Callable[[], Any]) -> Any:
    """``compute()`` once per batch (every call outside a batch)."""
    scope = _scope.get()
    if scope is None:
        return compute()
    if key not in scope:
        scope[key] = compute()
    return scope[key]


def known_absent(key: str, contact_id: int, query: Callable[[list[int]], Iterable[int]]) -> bool:
    """Whether ``contact_id`` is known not to be among ``query(batch contact ids)`` (asked
    once per batch). False outside a batch and for contacts the batch did not name."""
    scope = _scope.get()
    if scope is None or contact_id not in scope["contacts"]:
        return False
    if key not in scope:
        scope[key] = set(query(sorted(scope["contacts"])))
    return contact_id not in scope[key]


def note_present(key: str, contact_id: int) -> None:
    """``contact_id`` now has what ``key`` asks about (e.g. an enrollment started by an
    earlier message of the batch): later messages must not skip it."""
    scope = _scope.get()
    if scope is not None and key in scope:
        scope[key].add(contact_id)
