"""What the client's account, commerce, analytics and upload methods share: plain JSON Graph
calls through the core's generic ``call`` (retries, errors and the token stay in C++), id
checks before an id goes into a path, and cursor paging."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from .errors import InvalidParameter

_DIGITS = re.compile(r"^[0-9]{1,30}$")
# Meta stops following cursors well before this; it only guards against a server that loops.
_MAX_PAGES = 10_000


class GraphHost(Protocol):
    """What the mixins need of :class:`wacloud.Client`."""

    _core: Any
    phone_number_id: str
    waba_id: str | None


def refuse(field: str, problem: str) -> InvalidParameter:
    return InvalidParameter(f"{field}: {problem}", code=100)


def digits(value: Any, field: str) -> str:
    """A Meta object id (digits only), safe to put in a path."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _DIGITS.match(value):
        raise refuse(field, "must be a Meta id (digits only)")
    return value


def text(value: Any, field: str, limit: int, *, required: bool = True) -> str | None:
    """A string of at most ``limit`` characters (not blank when required)."""
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise refuse(field, "must be a string")
    if required and not value.strip():
        raise refuse(field, "must not be empty")
    if len(value) > limit:
        raise refuse(field, f"is {len(value)} characters; Meta allows at most {limit}")
    return value


def choice(value: Any, field: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise refuse(field, f"must be one of {', '.join(allowed)}, not {value!r}")
    return str(value)


def waba(host: GraphHost) -> str:
    if not host.waba_id:
        raise refuse("waba_id", "is required for WhatsApp Business Account calls (Client(waba_id=...))")
    return digits(host.waba_id, "waba_id")


def call(host: GraphHost, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
    payload = "" if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return host._core.call(method, path, payload)


def with_query(path: str, params: Mapping[str, Any]) -> str:
    given = {key: value for key, value in params.items() if value is not None}
    return f"{path}?{urlencode(given, quote_via=quote)}" if given else path


def pages(host: GraphHost, path: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every item of a paged edge, following ``paging.cursors.after`` while Meta gives ``next``."""
    after: str | None = None
    for _ in range(_MAX_PAGES):
        answer = call(host, "GET", with_query(path, {**params, "after": after}))
        yield from answer.get("data") or []
        paging = answer.get("paging") or {}
        cursor = (paging.get("cursors") or {}).get("after")
        if not paging.get("next") or not cursor or cursor == after:
            return
        after = cursor
