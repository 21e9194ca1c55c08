"""Who answers a conversation: a member of its organization whose role may reply (an agent or
above), or nobody. One write path for the inbox's chat page and any other door: the change
is audited, pushed live after its commit, and carried to the conversation's open escalation,
so the list's "mine" and the escalation never disagree."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet

from wacloud.errors import WacloudError

from ..automation.models import Escalation
from ..models import Conversation, Membership, Organization, Role
from . import audit, live_updates, tenancy


class AssignmentRefused(WacloudError, ValueError):
    """The assignee is not an active member of the conversation's organization who may reply."""


def assignable_members(organization: Organization) -> QuerySet[Any]:
    """The active users a conversation of ``organization`` may be assigned to, by username:
    members whose role allows ``reply`` (``WACLOUD["ROLES"]`` decides which roles do)."""
    least = Role.rank(tenancy.required_role("reply"))
    roles = [role for role in Role.values if Role.rank(role) >= least]
    members = Membership.objects.filter(organization=organization, role__in=roles, user__is_active=True)
    users = get_user_model().objects.filter(pk__in=members.values("user_id"))
    return users.order_by(get_user_model().USERNAME_FIELD)


def not_assignable(user_id: Any, organization: Organization) -> str:
    """The refusal, naming the user by id only: another tenant's usernames stay unseen."""
    return f"user {user_id} is not a member of {organization.name} who may reply"


def current_assignee(conversation: Conversation) -> Any | None:
    """Who answers ``conversation``: its assignee, else its open escalation's (the list's rule)."""
    if conversation.assignee_id is not None:
        return conversation.assignee
    escalation = (
        Escalation.objects.filter(conversation=conversation, resolved_at__isnull=True)
        .select_related("assigned_to")
        .first()
    )
    return escalation.assigned_to if escalation is not None else None


def assign_conversation(conversation: Conversation, assignee: Any | None) -> Conversation:
    """Assign ``conversation`` to ``assignee`` (a user), or unassign it with ``None``.
    Raises :class:`AssignmentRefused` for a user who is not an active member of the
    conversation's organization allowed to reply."""
    organization = conversation.account.organization
    if assignee is not None and not assignable_members(organization).filter(pk=assignee.pk).exists():
        raise AssignmentRefused(not_assignable(assignee.pk, organization))
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        before = locked.assignee_id
        after = assignee.pk if assignee is not None else None
        if before == after:
            return locked
        locked.assignee = assignee
        locked.save(update_fields=["assignee", "updated_at"])
        Escalation.objects.filter(conversation=locked, resolved_at__isnull=True).update(assigned_to=assignee)
        audit.record(
            "conversation.assign" if assignee is not None else "conversation.unassign",
            organization=organization,
            target=locked,
            changes={"assignee": [before, after]},
        )
        live_updates.publish_after_commit(
            organization.pk,
            {"event": "conversation", "conversation": locked.pk,
             "change": "assigned" if assignee is not None else "unassigned", "assignee": after},
        )  # fmt: skip
    return locked
