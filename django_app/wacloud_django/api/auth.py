"""API tokens: ``Authorization: Token <key>`` or ``Authorization: Bearer <key>``."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from ..models import ApiToken

#: How often ``last_used_at`` is written (not on every request: it would be a write per call).
_LAST_USED_RESOLUTION_SECONDS = 60


class TokenAuthentication(authentication.BaseAuthentication):
    """wacloud's hashed tokens (``manage.py whatsapp_add_member --token`` makes one).
    A project with its own bearer scheme (JWT, ...) lists its class before or instead of
    this one in ``WACLOUD["API_AUTHENTICATION_CLASSES"]``."""

    keywords = ("token", "bearer")

    def authenticate(self, request: Any) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace").lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header: expected '<Token|Bearer> <key>'")
        try:
            key = header[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("the token contains invalid characters") from None
        if not key.startswith(ApiToken.PREFIX):
            return None  # another scheme's bearer token (e.g. a JWT): let the next class try
        token = ApiToken.find(key)
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("invalid or expired token")
        now = timezone.now()
        if (
            token.last_used_at is None
            or (now - token.last_used_at).total_seconds() > _LAST_USED_RESOLUTION_SECONDS
        ):
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="api"'


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes :class:`TokenAuthentication`."""

    target_class = TokenAuthentication
    name = "wacloudToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token (whatsapp_add_member --token); 'Token <key>' works too.",
        }
