"""A contact's rights: export everything stored about them, and erase them.

Export: one JSON document (the contact, conversations, messages, media, consent
history, tickets, audit entries about them, and the automation data of
``privacy_automation``) plus the media files, in a zip archive.

Erasure: messages redacted, media removed, the webhook bodies and unmatched statuses
that name the number deleted (reprocessing them would bring the data back), the
contact pseudonymized: its wa_id replaced by a keyed hash of the number, its business-scoped
user id (BSUID) by one of the id, its parent BSUID emptied (stable:
erasing twice gives the same pseudonym, and whoever holds ``SECRET_KEY`` can find the
record of a number again, e.g. to prove its consent history), name, profile, tags and
link emptied. The consent history is kept (proof of consent and revocation is owed),
and points at the pseudonymized contact only. A re-contact from the same number is a
new contact: nothing merges with the erased one. The contact's pending automation is
stopped before anything else, and its automation rows redacted after the
pseudonymization (``privacy_automation``). Both are audited. docs/privacy.md."""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Iterable
from io import BytesIO
from os import PathLike
from pathlib import PurePosixPath
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Model, Q
from django.utils import timezone
from django.utils.crypto import salted_hmac

from ..helpdesk.models import Ticket, TicketComment
from ..models import (
    AuditEntry,
    ConsentRecord,
    Contact,
    Conversation,
    MediaFile,
    Message,
    PendingStatus,
    WebhookEvent,
)
from . import audit
from .privacy_automation import audit_targets, automation_sections, redact_automation, stop_automation
from .retention import BATCH_SIZE, delete_in_batches, redact_messages, remove_media

PSEUDONYM_PREFIX = "erased-"
#: What replaces personal values in the audit entries about an erased contact.
ERASED = "<erased>"
EXPORT_FORMAT = "wacloud.contact-export/1"

_CONTACT_FIELDS = (
    "id", "wa_id", "user_id", "parent_user_id", "name", "profile", "tags", "opted_in", "opted_in_at",
    "opted_out", "opted_out_at", "last_inbound_at", "linked_content_type_id", "linked_object_id",
    "created_at", "updated_at",
)  # fmt: skip
_MESSAGE_FIELDS = (
    "id", "wamid", "conversation_id", "direction", "type", "text", "content", "status", "timestamp",
    "sent_at", "delivered_at", "read_at", "played_at", "failed_at", "deleted_at", "edited_at", "error_code",
    "error_title", "error_message", "reply_to_wamid", "reference", "pricing", "raw", "created_at",
)  # fmt: skip
_MEDIA_FIELDS = (
    "id", "message_id", "media_id", "mime_type", "size", "sha256", "filename", "caption", "download_status",
    "downloaded_at", "created_at",
)  # fmt: skip
_CONVERSATION_FIELDS = ("id", "status", "last_message_at", "last_inbound_at", "created_at")
_CONSENT_FIELDS = ("id", "purpose", "status", "text", "source", "message_id", "actor_label", "occurred_at",
                   "recorded_at")  # fmt: skip
_TICKET_FIELDS = ("id", "number", "subject", "status", "priority", "sla_due_at", "closed_at", "created_at")
_COMMENT_FIELDS = ("id", "author", "text", "message_id", "attachment_id", "created_at")
_AUDIT_FIELDS = ("id", "created_at", "actor_label", "source", "action", "object_type", "object_id",
                 "object_repr", "changes", "correlation_id")  # fmt: skip


def pseudonym(account_id: int, wa_id: str) -> str:
    """The wa_id an erased contact gets: a keyed hash of its account and number (keyed
    with ``SECRET_KEY``, so nobody can undo it by hashing every possible number)."""
    if wa_id.startswith(PSEUDONYM_PREFIX):
        return wa_id  # already erased
    digest = salted_hmac("wacloud.privacy.pseudonym", f"{account_id}:{wa_id}", algorithm="sha256")
    return PSEUDONYM_PREFIX + digest.hexdigest()[:40]


def find_erased_contact(account_id: int, wa_id: str) -> Contact | None:
    """The erased contact that was ``wa_id`` (a number, or the BSUID of a user known by it
    alone), to show its consent history, if any."""
    hashed = pseudonym(account_id, wa_id)
    return Contact.objects.filter(Q(wa_id=hashed) | Q(user_id=hashed), account_id=account_id).first()


def is_erased(contact: Contact) -> bool:
    return (contact.wa_id or contact.user_id).startswith(PSEUDONYM_PREFIX)


def find_contact(reference: str, phone_number_id: str | None = None) -> Contact:
    """The contact named by ``reference``: its id (fewer than 8 digits), its number
    (``+`` and spaces allowed; a leading ``+`` always means a number) or its business-scoped
    user id (``US.1349...``), on the account ``phone_number_id`` (needed when several accounts
    know it). Raises ``Contact.DoesNotExist`` or ``ValueError`` (ambiguous)."""
    reference = reference.strip()
    contacts = Contact.objects.select_related("account__organization")
    if phone_number_id:
        contacts = contacts.filter(account__phone_number_id=phone_number_id)
    if reference.isascii() and reference.isdigit() and len(reference) < 8:  # "+..." is always a number
        return contacts.get(pk=int(reference))
    number = "".join(reference.split()).lstrip("+")
    by_id = Q(user_id=reference) if "." in reference else Q(pk__in=[])  # a BSUID: US.1349...
    found = list(contacts.filter(Q(wa_id=number) | by_id)[:2])
    if not found:
        raise Contact.DoesNotExist(f"no contact {reference!r}")
    if len(found) > 1:
        raise ValueError(f"several accounts know {reference!r}: name one with --account PHONE_NUMBER_ID")
    return found[0]


# -- export -------------------------------------------------------------------------------------


def _row(instance: Model, fields: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(instance, name) for name in fields}


def _audit_entries_about(contact: Contact) -> Q:
    """Entries whose target is the contact or one of its messages or conversations."""
    message_ids = [str(pk) for pk in Message.objects.filter(contact=contact).values_list("pk", flat=True)]
    conversation_ids = [str(pk) for pk in contact.conversations.values_list("pk", flat=True)]
    found = Q(object_type=Contact._meta.label, object_id=str(contact.pk))
    targets = [(Message._meta.label, message_ids), (Conversation._meta.label, conversation_ids)]
    for label, ids in [*targets, *audit_targets(contact)]:
        for start in range(0, len(ids), BATCH_SIZE):
            found |= Q(object_type=label, object_id__in=ids[start : start + BATCH_SIZE])
    return found


def _media_name(media: MediaFile) -> str:
    base = PurePosixPath(media.filename or media.file.name or media.media_id).name or str(media.pk)
    return f"media/{media.pk}-{base}"


def contact_document(contact: Contact) -> tuple[dict[str, Any], list[tuple[str, MediaFile]]]:
    """The export's JSON document, and the media files to add to the archive (path, row)."""
    messages = Message.objects.filter(contact=contact).order_by("timestamp", "pk")
    media_rows = MediaFile.objects.filter(message__contact=contact).order_by("pk")
    files: list[tuple[str, MediaFile]] = []
    media = []
    for row in media_rows.iterator(chunk_size=BATCH_SIZE):
        entry = _row(row, _MEDIA_FIELDS)
        entry["archive_path"] = None
        if row.file and row.file.storage.exists(row.file.name):
            entry["archive_path"] = _media_name(row)
            files.append((entry["archive_path"], row))
        media.append(entry)
    document = {
        "format": EXPORT_FORMAT,
        "exported_at": timezone.now(),
        "account": {
            "phone_number_id": contact.account.phone_number_id,
            "display_phone_number": contact.account.display_phone_number,
            "name": contact.account.name,
        },
        "contact": _row(contact, _CONTACT_FIELDS),
        "conversations": [_row(c, _CONVERSATION_FIELDS) for c in contact.conversations.order_by("pk")],
        "messages": [_row(m, _MESSAGE_FIELDS) for m in messages.iterator(chunk_size=BATCH_SIZE)],
        "media": media,
        "consent_history": [
            _row(record, _CONSENT_FIELDS)
            for record in ConsentRecord.objects.filter(contact=contact).order_by("occurred_at", "pk")
        ],
        "tickets": [
            {
                **_row(ticket, _TICKET_FIELDS),
                "comments": [_row(c, _COMMENT_FIELDS) for c in ticket.comments.order_by("created_at", "pk")],
            }
            for ticket in Ticket.objects.filter(contact=contact).order_by("number")
        ],
        **automation_sections(contact),
        "audit_entries": [
            _row(entry, _AUDIT_FIELDS)
            for entry in AuditEntry.objects.filter(_audit_entries_about(contact)).order_by("created_at", "pk")
        ],
    }
    return document, files


def export_contact(contact: Contact, path: str | PathLike[str] | None = None) -> bytes | None:
    """Everything stored about ``contact`` as a zip archive: ``contact.json`` and
    ``media/<id>-<name>`` files. Written to ``path`` when given (returns ``None``),
    else returned as bytes. Audited as ``contact.export``."""
    document, files = contact_document(contact)
    target: Any = BytesIO() if path is None else path
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "contact.json", json.dumps(document, cls=DjangoJSONEncoder, indent=2, sort_keys=True)
        )
        for name, row in files:
            with row.file.open("rb") as source, archive.open(name, "w") as sink:  # decrypted
                shutil.copyfileobj(source, sink)
    with transaction.atomic():
        audit.record(
            "contact.export",
            organization=contact.account.organization,
            target=contact,
            changes={"messages": len(document["messages"]), "media_files": len(files)},
        )
    return target.getvalue() if path is None else None


# -- erasure ------------------------------------------------------------------------------------


def _webhook_events_naming(contact: Contact) -> list[int]:
    """Stored webhook bodies of the contact's account (or of no known account) that
    contain its number or business-scoped user ids. Read in chunks; bounded by the webhook
    retention."""
    # JSON strings: "from", "wa_id", "recipient_id"; "user_id", "from_user_id", "recipient_user_id".
    ids = (contact.wa_id, contact.user_id, contact.parent_user_id)
    needles = [f'"{value}"'.encode() for value in ids if value]
    events = WebhookEvent.objects.filter(Q(account=contact.account) | Q(account__isnull=True))
    found = []
    for pk, body in events.values_list("pk", "body").iterator(chunk_size=BATCH_SIZE):
        if any(needle in bytes(body) for needle in needles):
            found.append(pk)
    return found


def erase_contact(contact: Contact, *, batch_size: int = BATCH_SIZE) -> dict[str, Any]:
    """Erase ``contact`` (see the module's docstring). Idempotent: a run cut short is
    finished by running it again, and the pseudonym stays the same. Returns counts.

    The contact is pseudonymized before its messages are redacted: from then on a message
    from the same number makes a new contact, so nothing new attaches to the erased one."""
    contact = Contact.objects.select_related("account__organization").get(pk=contact.pk)
    messages = Message.objects.filter(contact=contact)
    # What would still message the contact stops first (confirmations, reminders, campaigns, ...).
    counts: dict[str, Any] = stop_automation(contact, batch_size=batch_size)
    # The outbox must not send to (or with the content of) an erased contact.
    with transaction.atomic():
        counts["sends_cancelled"] = messages.filter(
            direction=Message.Direction.OUTBOUND, status=Message.Status.QUEUED
        ).update(
            status=Message.Status.FAILED,
            failure_kind=Message.SendFailure.PERMANENT,
            failed_at=timezone.now(),
            error_message="the contact was erased",
            updated_at=timezone.now(),
        )
    counts["webhook_events_deleted"] = counts["pending_statuses_deleted"] = 0
    if not is_erased(contact):  # the number is still known: find what names it
        for ids in _chunks(_webhook_events_naming(contact), batch_size):
            counts["webhook_events_deleted"] += delete_in_batches(
                WebhookEvent.objects.filter(pk__in=ids), batch_size=batch_size
            )
        naming = Q(recipient_id=contact.wa_id) if contact.wa_id else Q(pk__in=[])
        if contact.user_id:
            naming |= Q(raw__recipient_user_id=contact.user_id)
        counts["pending_statuses_deleted"] = delete_in_batches(
            PendingStatus.objects.filter(naming).filter(Q(account=contact.account) | Q(account__isnull=True)),
            batch_size=batch_size,
        )
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        # A user known by business-scoped user id alone keeps no number, and the reverse.
        if locked.wa_id:
            locked.wa_id = pseudonym(locked.account_id, locked.wa_id)
        if locked.user_id:
            locked.user_id = pseudonym(locked.account_id, locked.user_id)
        locked.parent_user_id = ""
        locked.name, locked.profile, locked.tags = "", {}, []
        locked.linked_content_type, locked.linked_object_id = None, ""
        locked.save()
        counts["audit_entries_pseudonymized"] = _pseudonymize_audit_entries(locked)
        # Help desk tickets copy what the customer wrote: their text goes with the messages.
        tickets = Ticket.objects.filter(contact=locked)
        counts["ticket_comments_redacted"] = TicketComment.objects.filter(ticket__in=tickets).update(text="")
        tickets.update(subject="")
    # None: an earlier run pseudonymized it, or a user known by business-scoped user id alone.
    number = None if is_erased(contact) else (contact.wa_id or None)
    counts.update(redact_automation(locked, number, batch_size=batch_size))
    counts["messages_redacted"] = redact_messages(
        messages.exclude(content__has_key="redacted"), batch_size=batch_size
    )
    counts["media_files_removed"] = remove_media(
        MediaFile.objects.filter(message__contact=contact), batch_size=batch_size
    )
    counts["consent_records_kept"] = ConsentRecord.objects.filter(contact=locked).count()
    with transaction.atomic():
        audit.record("contact.erase", organization=locked.account.organization, target=locked, changes=counts)
    return {**counts, "pseudonym": locked.wa_id or locked.user_id}


def _pseudonymize_audit_entries(contact: Contact) -> int:
    """The audit log is append-only, except here: entries about the contact keep who did
    what and when, but its name and number (in ``object_repr`` and the changed values)
    are replaced. Updated with ``QuerySet.update`` (``AuditEntry.save`` refuses changes)."""
    entries = AuditEntry.objects.filter(object_type=Contact._meta.label, object_id=str(contact.pk)).exclude(
        action__in=("contact.export", "contact.erase")  # counts only, nothing personal
    )
    changed = 0
    for entry in entries.only("pk", "changes").iterator(chunk_size=BATCH_SIZE):
        changes = {name: [ERASED, ERASED] for name in (entry.changes or {})}
        changed += AuditEntry.objects.filter(pk=entry.pk).update(object_repr=str(contact), changes=changes)
    return changed


def _chunks(ids: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


__all__ = [
    "ERASED",
    "EXPORT_FORMAT",
    "PSEUDONYM_PREFIX",
    "contact_document",
    "erase_contact",
    "export_contact",
    "find_contact",
    "find_erased_contact",
    "is_erased",
    "pseudonym",
]
