"""Blocking users at Meta: a blocked user cannot write to the number and is sent nothing.
Meta blocks only users who wrote in the last 24 hours (131047 otherwise) and up to 1,000 a
request; unblocking has no such rule. ``Contact.blocked_at`` mirrors Meta's block list for the
contacts it blocked or unblocked; each change is audited. Called by the API
(``contacts/<id>/block``) and the admin's actions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..models import Contact
from . import audit
from .clients import client_for

#: Meta's limit on users per block or unblock request.
BATCH = 1000


class ContactNotBlockable(ValueError):
    """The contact has no phone number (known by business-scoped user id only)."""


@dataclass
class BlockOutcome:
    """The contacts Meta blocked (or unblocked) and those it did not, with its reason."""

    done: list[Contact] = field(default_factory=list)
    failed: list[tuple[Contact, int, str]] = field(default_factory=list)  # (contact, code, message)

    def as_dict(self) -> dict[str, Any]:
        return {
            "done": [contact.pk for contact in self.done],
            "failed": [
                {"contact": contact.pk, "code": code, "message": message}
                for contact, code, message in self.failed
            ],
        }


def block(contacts: Iterable[Contact]) -> BlockOutcome:
    return _change(contacts, blocking=True)


def unblock(contacts: Iterable[Contact]) -> BlockOutcome:
    return _change(contacts, blocking=False)


def _change(contacts: Iterable[Contact], *, blocking: bool) -> BlockOutcome:
    by_account: dict[int, list[Contact]] = defaultdict(list)
    for contact in contacts:
        if not contact.wa_id:
            raise ContactNotBlockable(f"contact {contact.pk} has no phone number to block")
        by_account[contact.account_id].append(contact)
    outcome = BlockOutcome()
    for group in by_account.values():
        account = group[0].account
        client = client_for(account)
        for start in range(0, len(group), BATCH):
            batch = group[start : start + BATCH]
            call = client.block_users if blocking else client.unblock_users
            result = call([contact.wa_id for contact in batch])
            by_wa_id = {contact.wa_id: contact for contact in batch}
            done = [by_wa_id[user.wa_id] for user in result.done if user.wa_id in by_wa_id]
            failed = [
                (by_wa_id[f.wa_id or f.input], f.code, f.message or f.details)
                for f in result.failed
                if (f.wa_id or f.input) in by_wa_id
            ]
            _store(account, done, blocking)
            outcome.done += done
            outcome.failed += failed
    return outcome


def _store(account: Any, done: list[Contact], blocking: bool) -> None:
    if not done:
        return
    now = timezone.now() if blocking else None
    with transaction.atomic():
        Contact.objects.filter(pk__in=[c.pk for c in done]).update(blocked_at=now)
        for contact in done:
            contact.blocked_at = now
            audit.record(
                "contact.block" if blocking else "contact.unblock",
                organization=account.organization,
                target=contact,
                changes={"blocked": [not blocking, blocking]},
            )
