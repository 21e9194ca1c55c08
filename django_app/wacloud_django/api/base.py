"""What every API view shares: authentication, the organization a request acts in,
role checks per action, throttles, the audit context and the error format."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Model, QuerySet
from django.utils.module_loading import import_string
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import get_doc
from drf_spectacular.utils import extend_schema
from rest_framework import permissions
from rest_framework.authentication import SessionAuthentication
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from ..conf import get_setting
from ..models import Organization
from ..services import audit, tenancy
from .auth import TokenAuthentication
from .errors import handle_exception
from .throttles import MediaUploadThrottle, OrganizationRateThrottle, TemplateCreateThrottle, UserRateThrottle

ORGANIZATION_HEADER = "X-Organization"


class RolePermission(permissions.BasePermission):
    """The view's ``actions[method]`` (an action of services.tenancy.DEFAULT_ROLES) decides;
    the user must hold at least that action's role in the request's organization."""

    message = "Your role in this organization does not allow this."

    def has_permission(self, request: Any, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        action = view.action_for(request)
        return tenancy.has_role(request.user, view.organization, action)


class Pagination(LimitOffsetPagination):
    """``?limit=&offset=`` (seed 000); answers ``{"success", "count", "limit", "offset", "results"}``."""

    default_limit = 50
    max_limit = 500

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "success": True,
                "count": self.count,
                "limit": self.limit,
                "offset": self.offset,
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["success", "count", "results"],
            "properties": {
                "success": {"type": "boolean"},
                "count": {"type": "integer"},
                "limit": {"type": "integer"},
                "offset": {"type": "integer"},
                "results": schema,
            },
        }


class _Schema(AutoSchema):
    def get_description(self) -> str:  # type: ignore[override]
        # A view without a docstring of its own would be described by ApiView's (about subclassing).
        description = super().get_description()
        return "" if description == get_doc(ApiView) else description


def _authentication_classes() -> list[type]:
    configured = get_setting("API_AUTHENTICATION_CLASSES")
    if configured:
        return [import_string(path) if isinstance(path, str) else path for path in configured]
    return [TokenAuthentication, SessionAuthentication]


class ApiView(APIView):
    """Base of every wacloud API view. Subclasses set ``actions`` (method -> action)."""

    schema = _Schema()  # drf-spectacular's, whatever DEFAULT_SCHEMA_CLASS the project set
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    permission_classes = [RolePermission]
    throttle_classes = [
        UserRateThrottle,
        OrganizationRateThrottle,
        TemplateCreateThrottle,
        MediaUploadThrottle,
    ]
    actions: dict[str, str] = {"GET": "read", "HEAD": "read", "OPTIONS": "read"}
    #: Views that answer without a user (health) set this to False.
    needs_organization = True

    organization: Organization

    def get_authenticators(self) -> list[Any]:
        return [cls() for cls in _authentication_classes()]

    def get_exception_handler(self) -> Callable[..., Any]:
        return handle_exception

    def action_for(self, request: Any) -> str:
        # HEAD runs the GET handler, so it needs what GET needs.
        method = "GET" if request.method == "HEAD" else request.method
        return self.actions.get(method, "read")

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        self.format_kwarg = self.get_format_suffix(**kwargs)
        neg = self.perform_content_negotiation(request)
        request.accepted_renderer, request.accepted_media_type = neg
        version, scheme = self.determine_version(request, *args, **kwargs)
        request.version, request.versioning_scheme = version, scheme
        self.perform_authentication(request)
        if self.needs_organization:
            if not request.user or not request.user.is_authenticated:
                self.permission_denied(request)  # 401 with WWW-Authenticate
            wanted = request.headers.get(ORGANIZATION_HEADER) or request.query_params.get("organization")
            self.organization = tenancy.choose_organization(request.user, wanted)
            request.wacloud_organization = self.organization
        self.check_permissions(request)
        self.check_throttles(request)

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        # Writes made while handling the request are attributed to its user.
        with audit.acting_as(None, source="api", ip_address=_client_ip(request)):
            return super().dispatch(request, *args, **kwargs)

    def perform_authentication(self, request: Any) -> None:
        super().perform_authentication(request)
        user = request.user
        if user is not None and user.is_authenticated:
            audit.set_actor(user)  # the context was opened before DRF authenticated the request

    # -- helpers for subclasses -------------------------------------------------------------------

    def scoped(self, queryset: QuerySet) -> QuerySet:
        return tenancy.scoped(queryset, self.organization)

    def get_scoped_object(self, queryset: QuerySet, **lookup: Any) -> Model:
        """One object of this organization; another tenant's (or none) is a 404."""
        from django.http import Http404

        found = self.scoped(queryset).filter(**lookup).first()
        if found is None:
            raise Http404
        return found

    def paginate(self, queryset: QuerySet, serializer_class: type, **context: Any) -> Response:
        paginator = Pagination()
        page = paginator.paginate_queryset(queryset, self.request, view=self)
        data = serializer_class(page, many=True, context={"request": self.request, **context}).data
        return paginator.get_paginated_response(data)


def documented(**kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """drf-spectacular's ``extend_schema`` for a view method, built on drf-spectacular's
    AutoSchema whatever ``DEFAULT_SCHEMA_CLASS`` the host project configured (it would
    otherwise extend DRF's own, which drf-spectacular cannot use)."""

    def decorate(method: Callable[..., Any]) -> Callable[..., Any]:
        method.schema = _Schema  # type: ignore[attr-defined]  # the base extend_schema extends
        return extend_schema(**kwargs)(method)

    return decorate


def ok(data: dict[str, Any] | None = None, status: int = 200) -> Response:
    """A success answer: ``{"success": true, ...}``."""
    return Response({"success": True, **(data or {})}, status=status)


def _client_ip(request: Any) -> str | None:
    address = request.META.get("REMOTE_ADDR") or None
    return address
