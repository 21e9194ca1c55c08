"""Who a contact is: a number (``wa_id``), Meta's business-scoped user id (``user_id``,
a BSUID such as ``US.13491208655302741918``), or both (docs/webhooks.md, "Business-scoped
user ids").

Meta's advice is followed: a user is matched by BSUID first and by number second. A user
who hides their number behind a username is known by BSUID alone (``wa_id`` blank); the
ids a message or status tells and the contact lacks are learned; a BSUID changes only
through Meta's ``user_id_update`` (or a message naming the same number with a new one).
Two rows that turn out to be one user (a number messaged before the user wrote from a
hidden number) are not merged: the id the other row holds is left there, and logged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from wacloud import BusinessScopedUser

from ..exceptions import ItemRejected
from ..log_privacy import get_logger
from ..models import BusinessAccount, Contact
from . import audit

logger = get_logger("wacloud.contacts")

#: The columns the ids are stored in; a longer id is not one of Meta's and its item is refused.
_LIMITS = {"wa_id": 64, "user_id": 140, "parent_user_id": 140}


@dataclass(frozen=True)
class Identity:
    """The ids one webhook item gives for its user (``""``: not given)."""

    wa_id: str = ""
    user_id: str = ""
    parent_user_id: str = ""

    def __bool__(self) -> bool:
        return bool(self.wa_id or self.user_id)

    def merged(self, later: Identity) -> Identity:
        """What two items about one user tell together (the later one's ids win)."""
        return Identity(
            later.wa_id or self.wa_id,
            later.user_id or self.user_id,
            later.parent_user_id or self.parent_user_id,
        )

    def fields(self) -> dict[str, str]:
        return {"wa_id": self.wa_id, "user_id": self.user_id, "parent_user_id": self.parent_user_id}

    def check(self) -> Identity:
        """Refuse an id longer than its column (:class:`ItemRejected`)."""
        for name, limit in _LIMITS.items():
            value = getattr(self, name)
            if len(value) > limit:
                raise ItemRejected(
                    f"{name} is {len(value)} characters long (Meta's fit in {limit}): {value[:40]!r}..."
                )
        return self


def of_message(item: Any) -> Identity:
    """The user of an inbound message (its sender) or of an echo (the user it went to). The
    parser already filled the BSUIDs from the item's ``contacts[]`` entry where the message
    itself had none."""
    inbound = not item.is_echo
    return Identity(
        wa_id=(item.from_wa_id if inbound else item.to_wa_id) or (item.contact or {}).get("wa_id") or "",
        user_id=(item.from_user_id if inbound else item.to_user_id) or "",
        parent_user_id=(item.from_parent_user_id if inbound else item.to_parent_user_id) or "",
    )


def of_status(update: Any) -> Identity:
    """The recipient of a status; none for a group message (its recipient is the group)."""
    if update.recipient_type == "group":
        return Identity()
    return Identity(
        wa_id=update.recipient_id or "",
        user_id=update.recipient_user_id or "",
        parent_user_id=update.recipient_parent_user_id or "",
    )


def recipient_of(contact: Contact) -> str | BusinessScopedUser:
    """What a message to ``contact`` is sent to: the number when it is known, else the BSUID."""
    return contact.wa_id or BusinessScopedUser(contact.user_id)


def find_contact(account: BusinessAccount | int, identity: Identity) -> Contact | None:
    """The account's contact for ``identity`` (one query): by BSUID, else by number."""
    if not identity:
        return None
    wanted = Q(user_id=identity.user_id) if identity.user_id else Q(pk__in=[])
    if identity.wa_id:
        wanted |= Q(wa_id=identity.wa_id)
    rows = list(Contact.objects.filter(wanted, account=account)[:2])
    # Two rows: one holds the BSUID, the other the number (one user, met twice): the BSUID wins.
    rows.sort(key=lambda row: not (identity.user_id and row.user_id == identity.user_id))
    return rows[0] if rows else None


def contact_for(
    account: BusinessAccount, identity: Identity, defaults: dict[str, Any] | None = None
) -> tuple[Contact, bool]:
    """The account's contact for ``identity``, created (with ``defaults``) when there is none,
    else told the ids it lacks. Returns it and whether it was created. A concurrent delivery
    creating the same contact loses the unique constraint's race and finds the winner's."""
    contact = find_contact(account, identity)
    if contact is None:
        try:
            with transaction.atomic():
                return Contact.objects.create(account=account, **identity.fields(), **(defaults or {})), True
        except IntegrityError:
            contact = find_contact(account, identity)
            if contact is None:
                raise
    learn(contact, identity)
    return contact, False


def contacts_for_many(
    wanted: dict[Any, tuple[BusinessAccount, Identity, dict[str, Any]]],
) -> dict[Any, Contact]:
    """:func:`contact_for` for many users at once (webhook batches): ``wanted`` maps a key of
    the caller's to (account, identity, defaults), in the order the items came. The known
    contacts are read with one query and learn their ids first (so a later key naming the
    same user by another id finds them); the others are inserted with one statement (sorted,
    so concurrent batches lock in one order; a row inserted meanwhile is read back)."""

    def load(keys: list[Any]) -> dict[Any, Contact]:
        accounts = {wanted[key][0].pk for key in keys}
        user_ids = {wanted[key][1].user_id for key in keys if wanted[key][1].user_id}
        wa_ids = {wanted[key][1].wa_id for key in keys if wanted[key][1].wa_id}
        rows = Contact.objects.filter(Q(user_id__in=user_ids) | Q(wa_id__in=wa_ids), account_id__in=accounts)
        by_user_id, by_wa_id = {}, {}
        for row in rows:
            by_user_id[(row.account_id, row.user_id)] = row
            by_wa_id[(row.account_id, row.wa_id)] = row
        found = {}
        for key in keys:
            account, identity, _ = wanted[key]
            row = (identity.user_id and by_user_id.get((account.pk, identity.user_id))) or (
                identity.wa_id and by_wa_id.get((account.pk, identity.wa_id))
            )
            if row:
                found[key] = row
        return found

    contacts = load(list(wanted)) if wanted else {}
    for key, contact in contacts.items():
        learn(contact, wanted[key][1])
    missing = [key for key in wanted if key not in contacts]
    if missing:
        contacts.update(load(missing))  # known now by an id learned above
        new = sorted((key for key in missing if key not in contacts), key=repr)
        if new:
            rows = [
                Contact(account=wanted[key][0], **wanted[key][1].fields(), **wanted[key][2]) for key in new
            ]
            Contact.objects.bulk_create(rows, ignore_conflicts=True)
            contacts.update(load(new))
        for key in missing:
            account, identity, defaults = wanted[key]
            if key not in contacts:  # a conflict bulk_create could not tell: one at a time
                contacts[key] = contact_for(account, identity, defaults)[0]
            learn(contacts[key], identity)
    return contacts


def learn(contact: Contact, identity: Identity) -> None:
    """Store the ids ``identity`` tells that ``contact`` does not hold; nothing is cleared.
    The contact was found by one of them, so a different other one is a change: a new BSUID
    for the same number (Meta replaced it), or a new number for the same BSUID. A number or
    BSUID that another contact holds is left with that contact."""
    changes = {
        name: value
        for name in ("wa_id", "user_id", "parent_user_id")
        if (value := getattr(identity, name)) and value != getattr(contact, name)
    }
    _save(contact, changes)


def _save(contact: Contact, changes: dict[str, str]) -> None:
    if not changes:
        return
    try:
        with transaction.atomic():
            Contact.objects.filter(pk=contact.pk).update(**changes, updated_at=timezone.now())
    except IntegrityError:
        # The number or BSUID belongs to another contact: two rows for one user, not merged.
        held = sorted(name for name in changes if name != "parent_user_id")
        logger.warning("contact %s: %s held by another contact of the account; left there", contact.pk, held)
        changes = {name: value for name, value in changes.items() if name not in held}
        if changes:
            Contact.objects.filter(pk=contact.pk).update(**changes, updated_at=timezone.now())
    for name, value in changes.items():
        setattr(contact, name, value)


def learn_from_status(contact_id: int | None, identity: Identity) -> None:
    """A status names its recipient's BSUID: kept on a contact that has none yet (one
    UPDATE, which changes nothing when the contact has it or another contact holds it)."""
    if contact_id is None or not identity.user_id:
        return
    holder = Contact.objects.filter(account_id=OuterRef("account_id"), user_id=identity.user_id)
    Contact.objects.filter(pk=contact_id, user_id="").exclude(Exists(holder)).update(
        user_id=identity.user_id, parent_user_id=identity.parent_user_id, updated_at=timezone.now()
    )


def apply_user_id_update(update: Any, account: BusinessAccount | None) -> Contact | None:
    """Meta's ``user_id_update``: the contact holding the previous BSUID (or, failing that,
    the update's number) takes the new one. Audited as ``contact.user_id_change``. Returns
    the contact, or ``None`` when the account knows no such user (their next message makes
    the contact)."""
    if account is None:
        return None
    identity = Identity(update.wa_id or "", update.user_id, update.parent_user_id or "").check()
    contact = Contact.objects.filter(account=account, user_id=update.previous_user_id).first()
    if contact is None and identity.wa_id:
        contact = Contact.objects.filter(account=account, wa_id=identity.wa_id).first()
    if contact is None:
        logger.info("user_id_update for a user the account %s does not know", account.pk)
        return None
    before = {"user_id": contact.user_id, "parent_user_id": contact.parent_user_id}
    changes = {"user_id": identity.user_id}
    if identity.parent_user_id:
        changes["parent_user_id"] = identity.parent_user_id
    if identity.wa_id and not contact.wa_id:
        changes["wa_id"] = identity.wa_id
    _save(contact, changes)
    after = {"user_id": contact.user_id, "parent_user_id": contact.parent_user_id}
    changed = {name: [before[name], after[name]] for name in before if before[name] != after[name]}
    if changed:
        audit.record(
            "contact.user_id_change", organization=account.organization, target=contact, changes=changed
        )
    return contact
