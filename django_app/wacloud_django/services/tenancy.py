"""Organizations and roles: the one answer to "which organization's data may this
user see, and may they do this there". The API, the pages, the admin and the
commands all scope through :func:`scoped` and check with :func:`has_role`.

A superuser is an admin of every organization. A project that never creates an
organization has one, ``default``, which takes every account."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Model, Q, QuerySet

from wacloud.errors import WacloudError

from ..automation.campaign_models import Campaign, CampaignRecipient
from ..automation.schedule_models import (
    Appointment,
    DailySummarySubscription,
    FollowUpEnrollment,
    FollowUpSequence,
    ReminderPolicy,
)
from ..conf import get_setting
from ..models import (
    AuditEntry,
    BusinessAccount,
    Confirmation,
    ConsentRecord,
    Contact,
    Conversation,
    Escalation,
    HelpdeskSession,
    MediaFile,
    Membership,
    Message,
    MetaDailyFigures,
    Organization,
    Role,
    SupportRule,
    Template,
    Ticket,
    TicketComment,
    WebhookEvent,
)

DEFAULT_SLUG = "default"

#: How each model reaches its organization.
_PATHS: dict[type[Model], str] = {
    Organization: "pk",
    BusinessAccount: "organization",
    Contact: "account__organization",
    ConsentRecord: "contact__account__organization",
    Conversation: "account__organization",
    Message: "account__organization",
    MediaFile: "account__organization",
    WebhookEvent: "account__organization",
    AuditEntry: "organization",
    Membership: "organization",
    Ticket: "organization",
    TicketComment: "ticket__organization",
    HelpdeskSession: "account__organization",
    SupportRule: "organization",
    Escalation: "organization",
    Confirmation: "organization",
    ReminderPolicy: "organization",
    Appointment: "organization",
    FollowUpSequence: "organization",
    FollowUpEnrollment: "sequence__organization",
    DailySummarySubscription: "contact__account__organization",
    Campaign: "organization",
    MetaDailyFigures: "organization",
    CampaignRecipient: "campaign__organization",
}

#: Every model whose rows belong to an organization.
SCOPED_MODELS: frozenset[type[Model]] = frozenset([*_PATHS, Template])

#: The least role for each action; ``WACLOUD["ROLES"]`` overrides any of them.
DEFAULT_ROLES: dict[str, str] = {
    "read": Role.VIEWER,  # conversations, messages, contacts, templates, analytics
    "reply": Role.AGENT,  # free-form messages, mark read, contacts
    "block_contact": Role.AGENT,  # block or unblock a user at Meta (services/blocking.py)
    "send_template": Role.MARKETER,  # templates to anyone, bulk sends
    "manage_templates": Role.MARKETER,  # create, sync, register
    "manage_automation": Role.MARKETER,  # customer support rules (workflows/automate)
    "manage_integrations": Role.ADMIN,  # accounts, tokens, connection tests
    "manage_members": Role.ADMIN,
    "read_audit": Role.ADMIN,
    "export_contact": Role.ADMIN,  # everything stored about a contact, as a zip (services/privacy.py)
    "erase_contact": Role.ADMIN,
}


class OrganizationRequired(WacloudError, LookupError):
    """The user belongs to several organizations (or none) and did not say which one."""


def default_organization() -> Organization:
    """The organization of one-tenant projects (made on first use)."""
    found = Organization.objects.filter(slug=DEFAULT_SLUG).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return Organization.objects.create(slug=DEFAULT_SLUG, name="Default")
    except IntegrityError:  # made by a concurrent first use
        return Organization.objects.get(slug=DEFAULT_SLUG)


def organizations_for(user: Any) -> QuerySet[Organization]:
    """The organizations ``user`` may see."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Organization.objects.none()
    if user.is_superuser:
        return Organization.objects.all()
    return Organization.objects.filter(memberships__user=user)


def role_of(user: Any, organization: Organization) -> str | None:
    """``user``'s role in ``organization`` (``None``: not a member)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Role.ADMIN
    return (
        Membership.objects.filter(user=user, organization=organization).values_list("role", flat=True).first()
    )


def required_role(action: str) -> str:
    overrides = get_setting("ROLES") or {}
    role = overrides.get(action, DEFAULT_ROLES[action])
    if role not in Role.values:
        from ..exceptions import SettingError

        raise SettingError(
            "ROLES", f'WACLOUD["ROLES"]["{action}"] must be one of {Role.values}, got {role!r}'
        )
    return role


def has_role(user: Any, organization: Organization, action_or_role: str) -> bool:
    """Whether ``user`` may do ``action_or_role`` (an action of DEFAULT_ROLES, or a role) there."""
    needed = required_role(action_or_role) if action_or_role in DEFAULT_ROLES else action_or_role
    role = role_of(user, organization)
    return role is not None and Role.rank(role) >= Role.rank(needed)


def choose_organization(user: Any, wanted: str | None = None) -> Organization:
    """The organization a request acts in: ``wanted`` (slug or id) when given and visible,
    else the user's only one. Raises :class:`OrganizationRequired`; an organization
    the user cannot see is reported exactly like one that does not exist."""
    visible = organizations_for(user)
    if wanted:
        numeric = wanted.isascii() and wanted.isdigit()  # not "²" (a digit to isdigit, not to int)
        lookup = Q(slug=wanted) | (Q(pk=int(wanted)) if numeric else Q())
        found = visible.filter(lookup).first()
        if found is None:
            raise OrganizationRequired(f"no organization {wanted!r}")
        return found
    candidates = list(visible.order_by("pk")[:2])
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise OrganizationRequired("this user is not a member of any organization")
    raise OrganizationRequired(
        "this user belongs to several organizations: name one with the X-Organization header"
    )


def scoped(queryset: QuerySet, organization: Organization) -> QuerySet:
    """``queryset`` limited to ``organization``'s rows."""
    model = queryset.model
    if model is Template:
        return queryset.filter(_templates_of(BusinessAccount.objects.filter(organization=organization)))
    if model not in _PATHS:
        raise TypeError(f"{model.__name__} has no organization scope")
    return queryset.filter(**{_PATHS[model]: organization})


def _templates_of(accounts: QuerySet) -> Q:
    """Templates of ``accounts``, and those known by WABA only whose WABA is one of theirs
    and no other account's (typing another tenant's WABA id into an account must not
    show that tenant's templates)."""
    own = accounts.exclude(waba_id="").values("waba_id")
    others = BusinessAccount.objects.exclude(waba_id="").exclude(pk__in=accounts.values("pk"))
    by_waba = Q(account__isnull=True, waba_id__in=own) & ~Q(waba_id__in=others.values("waba_id"))
    return Q(account__in=accounts) | by_waba


def visible_to(queryset: QuerySet, user: Any) -> QuerySet:
    """``queryset`` limited to the rows of every organization ``user`` may see (the admin)."""
    if user is not None and user.is_active and user.is_superuser:
        return queryset
    organizations = organizations_for(user)
    model = queryset.model
    if model is Template:
        return queryset.filter(_templates_of(BusinessAccount.objects.filter(organization__in=organizations)))
    if model not in _PATHS:
        return queryset.none()
    return queryset.filter(**{f"{_PATHS[model]}__in": organizations})


def add_member(organization: Organization, user: Any, role: str) -> tuple[Membership, bool]:
    """Give ``user`` ``role`` in ``organization`` (changing an existing membership's role).
    Check and write are one statement, so two concurrent calls end with one membership."""
    if role not in Role.values:
        raise ValueError(f"role must be one of {', '.join(Role.values)}, got {role!r}")
    membership, created = Membership.objects.update_or_create(
        user=user, organization=organization, defaults={"role": role}
    )
    return membership, created
