"""Message templates: sync them from the WABA, and check a send's parameters
against the stored template before Meta would refuse them."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from wacloud.errors import InvalidParameter, TemplateError, WacloudError
from wacloud.template_check import check_components

from ..exceptions import AccountNotConfigured
from ..models import BusinessAccount, Template
from .clients import client_for

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
_MEDIA_HEADER_FORMATS = {"IMAGE", "VIDEO", "DOCUMENT", "LOCATION"}

Progress = Callable[[int, int], None]


class TemplateSyncFailed(WacloudError, RuntimeError):
    """Some accounts could not be synced; ``results`` holds those that were."""

    def __init__(self, message: str, results: dict[str, dict[str, int]]) -> None:
        super().__init__(message)
        self.results = results


def sync_templates(account: BusinessAccount, progress: Progress | None = None) -> dict[str, int]:
    """Make the stored templates of the account's WABA match Meta's list:
    create new ones, update changed ones, mark vanished ones ``DELETED`` (rows are
    kept: old messages point at them by name). Returns counts by what happened.
    ``progress(done, total)`` is called as templates are stored."""
    if not account.waba_id:
        raise AccountNotConfigured(f"account {account.phone_number_id} has no WABA id; templates need one")
    remote = client_for(account).list_templates()
    counts = {"created": 0, "updated": 0, "unchanged": 0, "deleted": 0}
    seen: set[tuple[str, str]] = set()
    for done, item in enumerate(remote, start=1):
        seen.add((item.get("name", ""), item.get("language", "")))
        counts[_store(account, item)] += 1
        if progress is not None:
            progress(done, len(remote))
    stored = Template.objects.filter(waba_id=account.waba_id).exclude(status=Template.Status.DELETED)
    vanished = [t.pk for t in stored.only("name", "language") if (t.name, t.language) not in seen]
    counts["deleted"] = Template.objects.filter(pk__in=vanished).update(
        status=Template.Status.DELETED, status_updated_at=timezone.now(), updated_at=timezone.now()
    )
    return counts


def _store(account: BusinessAccount, item: Mapping[str, Any]) -> str:
    quality = item.get("quality_score")
    values = {
        "account": account,
        "template_id": str(item.get("id") or ""),
        "category": str(item.get("category") or "")[:32],
        "status": str(item.get("status") or "")[:32],
        "components": item.get("components") or [],
        "rejection_reason": str(item.get("rejected_reason") or "")[:255],
        "quality_score": str((quality.get("score") if isinstance(quality, Mapping) else quality) or "")[:16],
    }
    with transaction.atomic():
        template, created = Template.objects.select_for_update().get_or_create(
            waba_id=account.waba_id,
            name=str(item.get("name") or ""),
            language=str(item.get("language") or ""),
            defaults={**values, "status_updated_at": timezone.now()},
        )
        if created:
            return "created"
        changed = {name: value for name, value in values.items() if getattr(template, name) != value}
        if not changed:
            return "unchanged"
        if "status" in changed:
            changed["status_updated_at"] = timezone.now()
        for name, value in changed.items():
            setattr(template, name, value)
        template.save(update_fields=[*changed, "updated_at"])
    return "updated"


def expected_parameters(components: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """How many parameters each of a template's ``header`` and ``body`` takes."""
    expected: dict[str, int] = {}
    for component in components:
        kind = str(component.get("type", "")).lower()
        if kind == "header":
            media = str(component.get("format", "")).upper() in _MEDIA_HEADER_FORMATS
            expected["header"] = 1 if media else len(_PLACEHOLDER.findall(component.get("text") or ""))
        elif kind == "body":
            expected["body"] = len(_PLACEHOLDER.findall(component.get("text") or ""))
    return {kind: count for kind, count in expected.items() if count}


def validate_template_parameters(
    account: BusinessAccount, name: str, language: str, components: Sequence[Mapping[str, Any]] | None
) -> Template | None:
    """Check a template send against the stored template, raising
    :class:`wacloud.TemplateError` with the code Meta would answer: 132001 (not
    approved), 132000 (parameters missing, extra or misnamed), 132012 (a parameter of
    the wrong kind: the header's media, a button's sub_type), as
    :class:`wacloud.TemplateMismatch` naming the component and index. A template never
    synced is left to Meta (``None``)."""
    template = Template.objects.filter(waba_id=account.waba_id, name=name, language=language).first()
    if template is None:
        return None
    if template.status != Template.Status.APPROVED:
        raise TemplateError(
            f"template {name} ({language}) is {template.status or 'not approved'}; only approved templates "
            "can be sent",
            code=132001,
        )
    for component in components or []:
        if not isinstance(component, Mapping):
            raise InvalidParameter("template_components: each component must be a dict", code=100)
    # Meta's rules, as the client checks them: header kind, body parameters (named ones by
    # name), buttons by index and sub_type, carousel cards (wacloud.template_check).
    check_components(template.components, components, name=name, language=language)
    return template


def sync_all_templates(account_id: int | None = None) -> dict[str, dict[str, int]]:
    """:func:`sync_templates` for one account, or for every active account with a
    WABA id; keyed by phone number id. One account's failure does not stop the others."""
    accounts = BusinessAccount.objects.filter(is_active=True).exclude(waba_id="")
    if account_id is not None:
        accounts = BusinessAccount.objects.filter(pk=account_id)
    results: dict[str, dict[str, int]] = {}
    errors = []
    for account in accounts:
        try:
            results[account.phone_number_id] = sync_templates(account)
        except Exception as error:
            errors.append(f"{account.phone_number_id}: {error}")
    if errors:
        raise TemplateSyncFailed("; ".join(errors), results)
    return results


#: Category names Meta retired, as older integrations (seed 004) still write them.
LEGACY_CATEGORIES = {"TRANSACTIONAL": "UTILITY", "OTP": "AUTHENTICATION"}
CATEGORIES = ("UTILITY", "MARKETING", "AUTHENTICATION")


def create_template(
    account: BusinessAccount,
    name: str,
    language: str,
    category: str,
    components: Sequence[Mapping[str, Any]],
    parameter_format: str | None = None,
) -> Template:
    """Submit a template to Meta for review and store it (status as Meta answers, usually
    ``PENDING``; the status webhook updates it). ``parameter_format="NAMED"`` for
    ``{{order_id}}`` variables. Raises the client's typed errors."""
    from . import audit

    if not account.waba_id:
        raise AccountNotConfigured(f"account {account.phone_number_id} has no WABA id; templates need one")
    category = LEGACY_CATEGORIES.get(category.upper(), category.upper())
    if category not in CATEGORIES:
        raise InvalidParameter(f"category: {category!r} is not one of {', '.join(CATEGORIES)}", code=100)
    answer = client_for(account).create_template(
        name, language, category, list(components), parameter_format=parameter_format
    )
    with transaction.atomic():
        template, _ = Template.objects.update_or_create(
            waba_id=account.waba_id,
            name=name,
            language=language,
            defaults={
                "account": account,
                "template_id": str(answer.get("id") or ""),
                "category": str(answer.get("category") or category)[:32],
                "status": str(answer.get("status") or Template.Status.PENDING)[:32],
                "components": list(components),
                "status_updated_at": timezone.now(),
            },
        )
        audit.record(
            "template.create",
            organization=account.organization,
            target=template,
            changes={"category": [None, template.category], "status": [None, template.status]},
        )
    return template


def _account_of(template: Template, account: BusinessAccount | None) -> BusinessAccount:
    account = account or template.account
    if account is None or not account.waba_id or account.waba_id != template.waba_id:
        raise AccountNotConfigured(
            f"template {template}: no account of its WABA {template.waba_id or '?'} to ask Meta"
        )
    if not template.template_id:
        raise InvalidParameter(
            f"template {template}: Meta's template id is not known yet; sync first", code=100
        )
    return account


def refresh_template(template: Template, account: BusinessAccount | None = None) -> Template:
    """Read the template from Meta by its id (``GET /<TEMPLATE_ID>``) and store what Meta
    answers. ``account`` (of the template's WABA) is needed when the row has none."""
    account = _account_of(template, account)
    _store(account, client_for(account).get_template(template.template_id))
    template.refresh_from_db()
    return template


def edit_template(
    template: Template,
    *,
    components: Sequence[Mapping[str, Any]] | None = None,
    category: str | None = None,
    account: BusinessAccount | None = None,
) -> Template:
    """Edit the template at Meta (``POST /<TEMPLATE_ID>``): the new ``components`` replace all
    of its components, ``category`` changes the category. Meta edits only APPROVED, REJECTED
    and PAUSED templates (an approved one once a day, not its category) and reviews the edit:
    the row is ``PENDING`` until the status webhook (or a sync) says otherwise. Raises the
    client's typed errors; nothing is stored when Meta refuses."""
    from . import audit

    account = _account_of(template, account)
    if category is not None:
        category = LEGACY_CATEGORIES.get(str(category).upper(), str(category).upper())
    client_for(account).edit_template(template.template_id, components=components, category=category)
    with transaction.atomic():
        locked = Template.objects.select_for_update().get(pk=template.pk)
        changes: dict[str, list[Any]] = {"status": [locked.status, Template.Status.PENDING]}
        if category is not None and category != locked.category:
            changes["category"] = [locked.category, category]
            locked.category = category
        if components is not None:
            changes["components"] = [locked.components, [dict(c) for c in components]]
            locked.components = changes["components"][1]
        locked.status = Template.Status.PENDING
        locked.status_updated_at = timezone.now()
        locked.save()
        audit.record("template.edit", organization=account.organization, target=locked, changes=changes)
    return locked
