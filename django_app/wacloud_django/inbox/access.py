"""Who may open an inbox page: a logged-in member of the organization the page acts in,
holding the role its action needs (services.tenancy, the same rules as the REST API).
Objects are looked up scoped to that organization, so another tenant's are a 404."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse_lazy

from ..conf import get_setting
from ..exceptions import SettingError
from ..models import Organization
from ..services import audit, tenancy

SESSION_KEY = "wacloud_inbox_organization"
LOGIN_URL = reverse_lazy("wacloud_inbox:login")
_SECTIONS = ("template", "integration", "analytics")


def current_organization(request: HttpRequest) -> Organization:
    """``?organization=<slug or id>`` (remembered in the session), else the remembered one,
    else the user's first organization by name. Not a member anywhere: 403."""
    wanted = request.GET.get("organization") or request.session.get(SESSION_KEY)
    organization = None
    if wanted:
        try:
            organization = tenancy.choose_organization(request.user, str(wanted))
        except tenancy.OrganizationRequired:
            if request.GET.get("organization"):
                raise Http404("no such organization") from None
    if organization is None:
        organization = tenancy.organizations_for(request.user).order_by("name", "pk").first()
    if organization is None:
        raise PermissionDenied("You are not a member of any organization.")
    request.session[SESSION_KEY] = organization.slug
    return organization


def member_view(action: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A page for members whose role allows ``action`` (services.tenancy.DEFAULT_ROLES).
    Sets ``request.organization``; writes inside are audited as the user's, source ``web``."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            organization = current_organization(request)
            if not tenancy.has_role(request.user, organization, action):
                raise PermissionDenied("Your role in this organization does not allow this.")
            request.organization = organization  # type: ignore[attr-defined]
            with audit.acting_as(request.user, source="web", ip_address=request.META.get("REMOTE_ADDR")):
                return view(request, *args, **kwargs)

        return login_required(wrapped, login_url=LOGIN_URL)

    return decorate


def may(request: HttpRequest, action: str) -> bool:
    return tenancy.has_role(request.user, request.organization, action)  # type: ignore[attr-defined]


def require(request: HttpRequest, action: str) -> None:
    """A second check inside a page whose actions need different roles (send text vs template)."""
    if not may(request, action):
        raise PermissionDenied("Your role in this organization does not allow this.")


def scoped_or_404(request: HttpRequest, queryset: QuerySet, **lookup: Any) -> Model:
    """The object of the request's organization, else 404 (another tenant's looks absent)."""
    found = tenancy.scoped(queryset, request.organization).filter(**lookup).first()  # type: ignore[attr-defined]
    if found is None:
        raise Http404("not found")
    return found


def poll_seconds() -> float:
    """``WACLOUD["INBOX_POLL_SECONDS"]``: the pages' polling period while no socket is open."""
    value = get_setting("INBOX_POLL_SECONDS")
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise SettingError(
            "INBOX_POLL_SECONDS", f'WACLOUD["INBOX_POLL_SECONDS"] must be a positive number, got {value!r}'
        )
    return value


def page(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    """Render an inbox page with what the frame needs: the organization, the others the
    user may switch to, and which sections the user's role opens."""
    from django.shortcuts import render

    organization = request.organization  # type: ignore[attr-defined]
    name = request.resolver_match.url_name if request.resolver_match else ""
    section = next((prefix for prefix in _SECTIONS if (name or "").startswith(prefix)), "conversations")
    frame = {
        "organization": organization,
        "organizations": list(tenancy.organizations_for(request.user).order_by("name", "pk")[:50]),
        "role": tenancy.role_of(request.user, organization),
        "can_manage_integrations": may(request, "manage_integrations"),
        "live_url": get_setting("INBOX_LIVE_URL") or "",
        "poll_seconds": poll_seconds(),
    }
    return render(request, template, {"inbox": frame, "section": section, **context}, status=status)
