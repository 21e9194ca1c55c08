"""The audit log: services record every write explicitly, inside their own transaction
(signals would miss ``QuerySet.update()`` and bulk writes, which the hot paths use).

Who did it comes from a context: the API and the admin set it per request, commands and
tasks with :func:`acting_as`. Webhook intake and sends are not copied here: their own
rows (``WebhookEvent``, ``Message``) are the record, and audit entries point at them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from django.db import models
from django.utils import timezone

from ..conf import get_setting
from ..models import AuditEntry, Organization
from .retention import delete_in_batches

#: Field names whose values never reach the log (only that they changed).
SECRET_FIELDS = frozenset(
    {"access_token", "app_secret", "verify_token", "password", "key", "token", "secret"}
)
MASK = "***"


@dataclass(frozen=True)
class AuditContext:
    actor: Any = None  # a user, or None for the system
    source: str = "system"  # api, admin, command, task, automation, system
    ip_address: str | None = None
    correlation_id: str = ""


_SYSTEM = AuditContext()
_context: ContextVar[AuditContext | None] = ContextVar("wacloud_audit_context", default=None)


def current_context() -> AuditContext:
    return _context.get() or _SYSTEM


@contextmanager
def acting_as(
    actor: Any = None, *, source: str, ip_address: str | None = None, correlation_id: str | None = None
) -> Iterator[AuditContext]:
    """Attribute the writes inside the block to ``actor`` (commands, tasks, requests)."""
    context = AuditContext(actor, source, ip_address, correlation_id or uuid.uuid4().hex)
    token = _context.set(context)
    try:
        yield context
    finally:
        _context.reset(token)


def set_actor(actor: Any) -> None:
    """Name the actor of the current context (a request authenticated after it opened)."""
    _context.set(replace(current_context(), actor=actor))


def _masked(name: str, value: Any) -> Any:
    if any(part in SECRET_FIELDS for part in name.lower().split("_")):
        return MASK if value not in (None, "") else value
    if isinstance(value, models.Model):
        return value.pk
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def changes_between(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``{field: [before, after]}`` for the fields whose value differs, secrets masked."""
    changed = {}
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old != new:
            changed[name] = [_masked(name, old), _masked(name, new)]
    return changed


def snapshot(instance: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(instance, name, None) for name in fields}


def record(
    action: str,
    *,
    organization: Organization | None,
    target: models.Model | None = None,
    changes: Mapping[str, Any] | None = None,
    actor: Any = None,
    source: str | None = None,
) -> AuditEntry:
    """Append one entry. Call it inside the transaction of the write it describes."""
    context = current_context()
    if actor is not None or source is not None:
        context = replace(context, actor=actor or context.actor, source=source or context.source)
    user = context.actor if getattr(context.actor, "is_authenticated", False) else None
    return AuditEntry.objects.create(
        actor=user,
        actor_label=(user.get_username() if user is not None else context.source)[:150],
        organization=organization,
        source=context.source,
        action=action,
        object_type=target._meta.label if target is not None else "",
        object_id=str(target.pk) if target is not None and target.pk is not None else "",
        object_repr=str(target)[:200] if target is not None else "",
        changes=dict(changes or {}),
        ip_address=context.ip_address,
        correlation_id=context.correlation_id,
    )


def cleanup_audit_entries(days: int | None = None, batch: int = 5000) -> int:
    """Delete entries older than ``AUDIT_RETENTION_DAYS`` (``None`` keeps them all), in
    bounded batches so the table is never locked for long. Returns how many went."""
    days = get_setting("AUDIT_RETENTION_DAYS") if days is None else days
    if days is None:
        return 0
    cutoff = timezone.now() - timedelta(days=days)
    return delete_in_batches(AuditEntry.objects.filter(created_at__lt=cutoff), batch_size=batch)
