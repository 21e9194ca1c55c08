"""Contacts edited by people (API, pages): create, rename, tag, opt out, link to an
object of the host project. Audited."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from wacloud import BusinessScopedUser
from wacloud.errors import InvalidParameter

from ..conf import get_setting
from ..models import BusinessAccount, Contact
from . import audit
from .contact_identity import Identity, contact_for
from .outbound import normalize_recipient

_FIELDS = ("name", "tags", "opted_out", "linked_content_type_id", "linked_object_id")


def _state(contact: Contact) -> dict[str, Any]:
    return {name: getattr(contact, name) for name in _FIELDS}


def create_contact(account: BusinessAccount, data: Mapping[str, Any]) -> tuple[Contact, bool]:
    """The account's contact for ``data["wa_id"]`` (normalized) and/or ``data["user_id"]``
    (a business-scoped user id), created or updated."""
    identity = Identity(
        wa_id=normalize_recipient(data["wa_id"]) if data.get("wa_id") else "",
        user_id=BusinessScopedUser(data["user_id"]).user_id if data.get("user_id") else "",
    )
    if not identity:
        raise InvalidParameter("wa_id: a contact needs a number or a business-scoped user id", code=100)
    with transaction.atomic():
        found, created = contact_for(account, identity)
        contact = Contact.objects.select_for_update().get(pk=found.pk)
        contact = _apply(contact, data, "contact.create" if created else "contact.update")
    return contact, created


def update_contact(contact: Contact, data: Mapping[str, Any]) -> Contact:
    with transaction.atomic():
        locked = Contact.objects.select_for_update().select_related("account").get(pk=contact.pk)
        return _apply(locked, data, "contact.update")


def _apply(contact: Contact, data: Mapping[str, Any], action: str) -> Contact:
    before = _state(contact)
    if "name" in data:
        contact.name = data["name"]
    if "tags" in data:
        contact.tags = sorted(dict.fromkeys(str(tag).strip() for tag in data["tags"] if str(tag).strip()))
    if "opted_out" in data and bool(data["opted_out"]) != contact.opted_out:
        # Recorded in the consent history, which sets opted_out (automation/services/consent.py).
        from ..automation.services.consent import record_opt_out

        record_opt_out(contact, bool(data["opted_out"]))
    if "linked_object" in data:
        _link(contact, data["linked_object"])
    contact.save()
    added = sorted(set(contact.tags) - set(before["tags"] or []))
    if added:
        # Follow-up sequences triggered by a tag start once the tag is committed.
        from ..automation.services.followups import handle_tags_added

        transaction.on_commit(partial(handle_tags_added, contact.pk, added))
    changes = audit.changes_between(before, _state(contact))
    if changes or action == "contact.create":
        audit.record(action, organization=contact.account.organization, target=contact, changes=changes)
    return contact


def _link(contact: Contact, linked: Mapping[str, Any] | None) -> None:
    if not linked:
        contact.linked_content_type, contact.linked_object_id = None, ""
        return
    label, object_id = str(linked.get("model", "")), str(linked.get("id", ""))
    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        raise InvalidParameter(
            f"linked_object.model: {label!r} is not an installed model", code=100
        ) from None
    allowed = get_setting("CONTACT_LINK_MODELS")
    if (allowed is not None and label.lower() not in {name.lower() for name in allowed}) or (
        allowed is None and model._meta.app_label == "wacloud"
    ):
        # wacloud's own rows belong to organizations: a link must not reveal another one's ids.
        raise InvalidParameter(f"linked_object.model: {label!r} cannot be linked to", code=100)
    if not object_id or not model._default_manager.filter(pk=object_id).exists():
        raise InvalidParameter(f"linked_object.id: no {label} with id {object_id!r}", code=100)
    contact.linked_content_type = ContentType.objects.get_for_model(model)
    contact.linked_object_id = object_id
