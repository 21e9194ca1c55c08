"""The events of one batch applied together (services/webhook_batch.py claims them):
inbound messages and statuses written with a few set-based statements for the whole
batch, by the same rules, into the same rows, with the same signals as one event at a
time (services/inbound.py, services/statuses.py). Bodies with anything else are applied
one at a time; an unexpected error here makes the caller do that for every event."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from wacloud.events import EventType

from .. import correlation, signals
from ..exceptions import ItemRejected
from ..log_privacy import get_logger
from ..models import BusinessAccount, WebhookEvent
from .accounts import ensure_account
from .bulk_sql import update_rows
from .inbound import check_id, failure_summary, item_failure
from .statuses import send_signal
from .webhook_auth import Signer

logger = get_logger("wacloud.inbound")

_FINISH_FIELDS = ["status", "last_error", "retriable", "item_errors", "event_count", "processed_at"]


def applies_together(parsed: Any) -> bool:
    """Whether a parsed body joins the set-based part of the batch: inbound messages,
    statuses and unreadable items only (echoes, templates, account updates: rare, and
    applied one event at a time)."""
    if not isinstance(parsed, list):
        return False
    for item in parsed:
        if item.event_type == EventType.MESSAGE:
            if item.is_echo:
                return False
        elif item.event_type not in (EventType.STATUS, EventType.INVALID):
            return False
    return True


def _bound(callback: Callable[[], Any], correlation_id: str | None) -> Callable[[], Any]:
    def run() -> Any:
        with correlation.use(correlation_id):
            return callback()

    return run


@dataclass
class EventWork:
    """One claimed event: its parsed items, what failed, and what runs after the commit."""

    event: WebhookEvent
    items: list[Any]
    signer: Signer | None
    correlation_id: str
    failures: list[dict[str, Any]] = field(default_factory=list)
    errors: dict[int, Exception] = field(default_factory=dict)
    accounts: dict[int, BusinessAccount | None] = field(default_factory=dict)
    callbacks: dict[int, list[Callable[[], Any]]] = field(default_factory=lambda: defaultdict(list))


@dataclass(eq=False)
class Entry:
    """One message or status of the batch, and what applying it produced."""

    work: EventWork
    index: int
    item: Any
    account: BusinessAccount | None = None
    rejected: bool = False
    wa_id: str | None = None
    new: bool = False  # messages: the batch's first item with a wamid not stored yet
    message: Any = None  # ... and the row stored for it
    contact: Any = None
    conversation: Any = None

    @property
    def event(self) -> WebhookEvent:
        return self.work.event

    def reject(self, error: Exception, path: str = "") -> None:
        """The item is not applied (``item_errors``; the event ends partial)."""
        self.rejected = True
        self.work.failures.append(item_failure(self.index, self.item, error, path=path))
        self.work.errors[self.index] = error
        self.work.accounts[self.index] = self.event.account

    def after_commit(self, callback: Callable[[], Any], correlation_id: str | None = None) -> None:
        self.work.callbacks[self.index].append(_bound(callback, correlation_id or self.work.correlation_id))

    def signal(self, signal: Any, correlation_id: str | None = None, **kwargs: Any) -> None:
        self.after_commit(partial(send_signal, signal, **kwargs), correlation_id)


def apply_together(parsed_events: list[tuple[WebhookEvent, list[Any]]]) -> None:
    """Apply the items of ``(event, parsed items)`` pairs (each :func:`applies_together`)
    and mark the events processed or partial. Call inside the batch's transaction."""
    from .batch_messages import store_messages
    from .batch_statuses import store_statuses

    known = _accounts_named(parsed_events)
    signers: dict[int | None, Signer] = {}
    works, messages, statuses = [], [], []
    for event, items in parsed_events:
        signer = None
        if event.signature_verified:
            if event.account_id not in signers:  # one secret decrypted per account and batch
                signers[event.account_id] = Signer.of_event(event.account)
            signer = signers[event.account_id]
        work = EventWork(event, items, signer, correlation.for_webhook_event(event))
        works.append(work)
        for index, item in enumerate(items):
            entry = Entry(work, index, item)
            if item.event_type == EventType.INVALID:
                entry.reject(ItemRejected(item.reason), path=item.path)
                continue
            try:
                entry.account = _account_for(entry, known)
            except (ItemRejected, ValueError) as error:
                entry.reject(error)
                continue
            work.accounts[index] = entry.account
            (messages if item.event_type == EventType.MESSAGE else statuses).append(entry)
    # Messages first: a status in the batch for a message of the batch then finds its row.
    store_messages(messages)
    store_statuses(statuses)
    _finish(works)


def _accounts_named(parsed_events: list[tuple[WebhookEvent, list[Any]]]) -> dict[str, BusinessAccount]:
    """The accounts of the numbers items name other than their event's own (one query)."""
    numbers = set()
    for event, items in parsed_events:
        own = event.account.phone_number_id if event.account_id else None
        numbers.update(item.phone_number_id for item in items if item.phone_number_id not in (None, own))
    if not numbers:
        return {}
    return {
        account.phone_number_id: account
        for account in BusinessAccount.objects.filter(phone_number_id__in=numbers)
    }


def _account_for(entry: Entry, known: dict[str, BusinessAccount]) -> BusinessAccount | None:
    """inbound._account_for with the batch's accounts; the wamid is checked before an
    unconfigured number gets its account (one event at a time, a refused item's
    account creation is rolled back with it)."""
    item, event, signer = entry.item, entry.event, entry.work.signer
    if signer is not None:
        reason = signer.refusal(item.phone_number_id, item.waba_id)
        if reason:
            raise ItemRejected(f"not applied: {reason}")
    check_id(item.message_id, "wamid")
    account = event.account
    if item.phone_number_id:
        if not (event.account_id and account.phone_number_id == item.phone_number_id):
            account = known.get(item.phone_number_id)
            if account is None:
                account = known[item.phone_number_id] = ensure_account(
                    item.phone_number_id,
                    waba_id=item.waba_id or "",
                    display_phone_number=item.display_phone_number or "",
                )
    elif item.waba_id:
        account = BusinessAccount.objects.filter(waba_id=item.waba_id).order_by("pk").first() or account
    if item.event_type == EventType.MESSAGE and account is None:
        raise ValueError(f"message {item.message_id} names no phone number id and the event has no account")
    return account


def _finish(works: list[EventWork]) -> None:
    """Mark every event (one UPDATE), then queue, in the order one event at a time would,
    what runs after the commit: each item's own callbacks, ``webhook_event_received``
    and, for an item not applied, ``webhook_error``."""
    now = timezone.now()
    rows = {}
    for work in works:
        event, failures = work.event, sorted(work.failures, key=lambda failure: failure["index"])
        event.status = WebhookEvent.Status.PARTIAL if failures else WebhookEvent.Status.PROCESSED
        event.last_error = failure_summary(failures, len(work.items))
        event.retriable, event.item_errors = True, failures
        event.event_count, event.processed_at = len(work.items), now
        rows[event.pk] = {name: getattr(event, name) for name in _FINISH_FIELDS}
    update_rows(WebhookEvent, rows, _FINISH_FIELDS)
    for work in works:
        event = work.event
        for index, item in enumerate(work.items):
            for callback in work.callbacks.get(index, ()):
                transaction.on_commit(callback)
            account = work.accounts.get(index, event.account)
            received = partial(
                send_signal,
                signals.webhook_event_received,
                sender=WebhookEvent,
                event=item,
                webhook_event=event,
                account=account,
            )
            transaction.on_commit(_bound(received, work.correlation_id))
            error = work.errors.get(index)
            if error is not None:
                logger.warning(
                    "webhook event %s: item %s not applied: %s",
                    event.pk,
                    index,
                    f"{type(error).__name__}: {error}",
                )
                failed = partial(
                    send_signal,
                    signals.webhook_error,
                    sender=WebhookEvent,
                    reason="item_failed",
                    error=error,
                    request=None,
                    webhook_event=event,
                    event=item,
                    account=account,
                )
                transaction.on_commit(_bound(failed, work.correlation_id))
