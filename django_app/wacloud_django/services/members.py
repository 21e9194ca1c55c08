"""Members of organizations: add one with a role (and an API token), audited."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from ..models import ApiToken, Organization
from . import audit
from .tenancy import DEFAULT_SLUG, add_member, default_organization


def add_member_by_name(
    username: str,
    *,
    role: str,
    organization_slug: str | None = None,
    organization_name: str | None = None,
    create_user: bool = False,
    email: str = "",
    issue_token: bool = False,
) -> dict[str, Any]:
    """Give ``username`` ``role`` in the organization ``organization_slug`` (default: the
    default one; created when ``organization_name`` is given). Returns what was done, with
    the new token's key under ``"token"`` when one was asked for (the only time it is seen)."""
    User = get_user_model()
    with transaction.atomic():
        if organization_slug and organization_slug != DEFAULT_SLUG:
            organization = Organization.objects.filter(slug=organization_slug).first()
            if organization is None:
                if not organization_name:
                    raise ValueError(
                        f"no organization {organization_slug!r}: give --organization-name to create it"
                    )
                organization = Organization.objects.create(slug=organization_slug, name=organization_name)
                audit.record("organization.create", organization=organization, target=organization)
        else:
            organization = default_organization()
        lookup = {User.USERNAME_FIELD: username}
        user = User.objects.filter(**lookup).first()
        if user is None:
            if not create_user:
                raise ValueError(f"no user {username!r}: give --create-user to create one")
            user = User.objects.create_user(**lookup, email=email)
            user.set_unusable_password()
            user.save()
        membership, created = add_member(organization, user, role)
        audit.record(
            "member.add" if created else "member.role",
            organization=organization,
            target=membership,
            changes={"user": [None, username], "role": [None, role]},
        )
        result: dict[str, Any] = {
            "username": username, "organization": organization.slug, "role": role, "created": created,
        }  # fmt: skip
        if issue_token:
            token, key = ApiToken.issue(user, name=f"{organization.slug} {role}")
            audit.record("token.issue", organization=organization, target=token)
            result["token"] = key
    return result
