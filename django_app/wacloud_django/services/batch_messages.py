"""Inbound messages of a batch (services/batch_apply.py): contacts, open conversations,
messages, counters and media written set-based, by store_inbound_message's rules."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import signals
from ..conf import get_setting
from ..exceptions import ItemRejected
from ..models import SERVICE_WINDOW, Contact, Conversation, MediaFile, Message
from .batch_apply import Entry
from .batch_scope import add_contacts
from .bulk_sql import ADD, GREATEST, update_rows
from .contact_identity import Identity, contacts_for_many, of_message
from .inbound import (
    _MODIFIER_TYPES,
    apply_to_target,
    contact_changes,
    contact_key,
    new_contact_fields,
    new_media_fields,
    new_message_fields,
    schedule_mark_read,
    target_wamid,
)

#: Another processor may store a wamid between our look-up and our INSERT: retried this often.
_INSERT_ATTEMPTS = 3


def store_messages(entries: list[Entry]) -> None:
    """Store each new wamid once (a repeat is left as stored), in item order."""
    if not entries:
        return
    entries = _owned(entries)
    contacts = _contacts(entries)
    conversations = _open_conversations(contacts.values())
    new: dict[str, Entry] = {}
    for entry in entries:
        if entry.wa_id:
            entry.contact = contacts[(entry.account.pk, entry.wa_id)]
            entry.conversation = conversations[entry.contact.pk]
        if entry.new:
            new[entry.item.message_id] = entry
    created = _insert(new)
    if not created:
        return
    add_contacts(entry.contact.pk for entry in created if entry.contact is not None)
    _advance_counters(created)
    _link_replies(created)
    _store_media(created)
    mark_read = get_setting("AUTO_MARK_READ")
    from ..automation.services.confirmations import apply_reply
    from ..automation.services.consent_keywords import apply_consent_keyword

    for entry in created:
        message, contact = entry.message, entry.contact
        if mark_read:
            entry.after_commit(partial(schedule_mark_read, message.pk))
        if contact is not None:
            # As one event at a time: keywords, then a confirmation's reply, before any receiver.
            apply_consent_keyword(message, contact)
            apply_reply(message, contact)
        entry.signal(
            signals.message_received,
            sender=Message,
            message=message,
            event=entry.item,
            account=entry.account,
            contact=contact,
            conversation=entry.conversation,
            webhook_event=entry.event,
        )


def _owned(entries: list[Entry]) -> list[Entry]:
    """The entries that may be applied: a wamid belongs to the account that stored it
    (or, new, to the batch's first item naming it). Each new wamid gets a row to insert."""
    wamids = list(dict.fromkeys(entry.item.message_id for entry in entries))
    owners = dict(Message.objects.filter(wamid__in=wamids).values_list("wamid", "account_id"))
    stored = set(owners)
    kept = []
    for entry in entries:
        wamid = entry.item.message_id
        entry.wa_id = contact_key(entry.item)
        try:
            of_message(entry.item).check()  # the number and BSUIDs fit their columns
            if owners.setdefault(wamid, entry.account.pk) != entry.account.pk:
                raise ItemRejected(f"wamid {wamid} is already stored under another account")
        except ItemRejected as error:
            entry.reject(error)
            continue
        if wamid not in stored:  # its first item: a row is built once contact and conversation are known
            stored.add(wamid)
            entry.new = True
        kept.append(entry)
    return kept


def _contacts(entries: list[Entry]) -> dict[tuple[int, str], Contact]:
    """The contacts the messages come from, created as needed (with the first message's
    name and profile), then renamed by each later message, as upsert_contact does."""
    first: dict[tuple[int, str], Entry] = {}
    for entry in entries:
        if entry.wa_id:
            first.setdefault((entry.account.pk, entry.wa_id), entry)
    if not first:
        return {}
    # Matched by business-scoped user id, else number, as one message at a time: with every id
    # the key's messages tell (contact_identity.py).
    identities: dict[tuple[int, str], Identity] = {}
    for entry in entries:
        if entry.wa_id:
            key = (entry.account.pk, entry.wa_id)
            identities[key] = identities.get(key, Identity()).merged(of_message(entry.item))
    contacts = contacts_for_many(
        {
            key: (entry.account, identities[key], new_contact_fields(entry.item, True))
            for key, entry in first.items()
        }
    )
    changed = {}
    for entry in entries:
        if entry.wa_id:
            contact = contacts[(entry.account.pk, entry.wa_id)]
            contact.account = entry.account  # the same row: receivers reading it need no query
            changes = contact_changes(contact, entry.item, True)
            for name, value in changes.items():
                setattr(contact, name, value)
            if changes:
                changed[contact.pk] = contact
    if changed:
        now = timezone.now()
        rows = {
            pk: {"name": row.name, "profile": row.profile, "updated_at": now} for pk, row in changed.items()
        }
        update_rows(Contact, rows, ["name", "profile", "updated_at"])
    return contacts


def _open_conversations(contacts: Iterable[Contact]) -> dict[int, Conversation]:
    """Each contact's open conversation, opened if there is none (the partial unique
    index leaves one when another processor opens it at the same time)."""
    by_pk = {contact.pk: contact for contact in contacts}
    if not by_pk:
        return {}

    def load(pks: Iterable[int]) -> dict[int, Conversation]:
        rows = Conversation.objects.filter(contact_id__in=list(pks), status=Conversation.Status.OPEN)
        return {row.contact_id: row for row in rows}

    conversations = load(by_pk)
    missing = sorted(pk for pk in by_pk if pk not in conversations)
    if missing:
        Conversation.objects.bulk_create(
            [Conversation(account_id=by_pk[pk].account_id, contact=by_pk[pk]) for pk in missing],
            ignore_conflicts=True,
        )
        conversations.update(load(missing))
    return conversations


def _insert(new: dict[str, Entry]) -> list[Entry]:
    """INSERT the new messages in one statement; returns their entries, in item order."""
    targets = {target_wamid(entry.item) for entry in new.values()} - {""}
    found = {row.wamid: row for row in Message.objects.filter(wamid__in=targets)} if targets else {}
    for wamid, entry in new.items():
        target = found.get(target_wamid(entry.item))
        reply_to = target if target is not None and target.account_id == entry.account.pk else None
        fields = new_message_fields(entry.item, entry.account, entry.contact, entry.conversation, reply_to)
        entry.message = Message(wamid=wamid, **fields)
    for attempt in range(1, _INSERT_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                Message.objects.bulk_create([entry.message for entry in new.values()])
            break
        except IntegrityError:
            if attempt == _INSERT_ATTEMPTS:
                raise
            # Stored meanwhile by another processor: that row stands, as insert_or_get's would.
            for wamid, account_id in Message.objects.filter(wamid__in=list(new)).values_list(
                "wamid", "account_id"
            ):
                entry = new.pop(wamid)
                entry.message = None
                if account_id != entry.account.pk:
                    entry.reject(ItemRejected(f"wamid {wamid} is already stored under another account"))
            for entry in new.values():
                entry.message.pk = None
    created = list(new.values())
    if any(entry.message.pk is None for entry in created):  # a database that returns no ids
        ids = dict(Message.objects.filter(wamid__in=list(new)).values_list("wamid", "pk"))
        for entry in created:
            entry.message.pk = ids[entry.message.wamid]
    return created


def _advance_counters(created: list[Entry]) -> None:
    """Conversation counters and the contacts' last inbound time, one UPDATE each,
    merged with the stored values in SQL (concurrent batches never lose an increment)."""
    now = timezone.now()
    conversations: dict[int, dict[str, Any]] = {}
    contacts: dict[int, dict[str, Any]] = {}
    for entry in created:
        message = entry.message
        if entry.conversation is None:
            continue
        when = message.timestamp
        row = conversations.setdefault(
            entry.conversation.pk,
            {
                "last_message_at": when,
                "last_inbound_at": when,
                "service_window_expires_at": when + SERVICE_WINDOW,
                "unread_count": 0,
                "updated_at": now,
            },
        )
        row["last_message_at"] = row["last_inbound_at"] = max(row["last_message_at"], when)
        row["service_window_expires_at"] = row["last_inbound_at"] + SERVICE_WINDOW
        row["unread_count"] += entry.item.type not in _MODIFIER_TYPES
        latest = contacts.setdefault(message.contact_id, {"last_inbound_at": when})
        latest["last_inbound_at"] = max(latest["last_inbound_at"], when)
    latest_of = {
        "last_message_at": GREATEST,
        "last_inbound_at": GREATEST,
        "service_window_expires_at": GREATEST,
    }
    update_rows(
        Conversation,
        conversations,
        ["last_message_at", "last_inbound_at", "service_window_expires_at", "unread_count", "updated_at"],
        combine={**latest_of, "unread_count": ADD},
    )
    update_rows(Contact, contacts, ["last_inbound_at"], combine={"last_inbound_at": GREATEST})


def _link_replies(created: list[Entry]) -> None:
    """Edits and revokes mark their target; messages that arrived before the one they
    point at (in an earlier batch or this one) are linked to it now."""
    for entry in created:
        if entry.message.reply_to_id is not None:
            apply_to_target(entry.message)
    by_wamid = {entry.message.wamid: entry.message for entry in created}
    in_batch = {entry.message.pk: entry.message for entry in created}
    waiting = Message.objects.filter(reply_to_wamid__in=list(by_wamid), reply_to__isnull=True)
    for referrer in waiting.order_by("pk"):
        target = by_wamid[referrer.reply_to_wamid]
        if referrer.account_id != target.account_id:
            continue
        referrer.reply_to = target
        referrer.save(update_fields=["reply_to", "updated_at"])
        if referrer.pk in in_batch:
            in_batch[referrer.pk].reply_to = target
        apply_to_target(referrer)


def _store_media(created: list[Entry]) -> None:
    with_media = [entry for entry in created if entry.item.media is not None]
    if not with_media:
        return
    rows = [
        MediaFile(
            message=entry.message,
            media_id=entry.item.media.id,
            **new_media_fields(entry.item.media, entry.account),
        )
        for entry in with_media
    ]
    MediaFile.objects.bulk_create(rows)
    if get_setting("MEDIA_DOWNLOAD"):
        from .media import schedule_download

        for entry, row in zip(with_media, rows, strict=True):
            entry.after_commit(partial(schedule_download, row.pk))
