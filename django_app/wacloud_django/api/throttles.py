"""Throttles per user and per organization, with seed 000's limits as defaults
(``WACLOUD["API_THROTTLE_RATES"]``): API calls 1000/hour, template creation
10/hour, media uploads 100/hour. Answered 429 with Retry-After."""

from __future__ import annotations

from typing import Any

from rest_framework.throttling import SimpleRateThrottle

from ..conf import get_setting


class _SettingRateThrottle(SimpleRateThrottle):
    setting_key = ""
    #: Only these views' ``throttle_scope`` (empty: every request).
    view_scope = ""

    def get_rate(self) -> str | None:
        # Read on each request (not at import), so settings changes take effect.
        return get_setting("API_THROTTLE_RATES").get(self.setting_key)

    def __init__(self) -> None:
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def allow_request(self, request: Any, view: Any) -> bool:
        if self.view_scope and getattr(view, "throttle_scope", "") != self.view_scope:
            return True
        if self.view_scope and request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        return super().allow_request(request, view)


class UserRateThrottle(_SettingRateThrottle):
    setting_key = "USER"
    scope = "wacloud_user"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        ident = request.user.pk if request.user and request.user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class OrganizationRateThrottle(_SettingRateThrottle):
    setting_key = "ORGANIZATION"
    scope = "wacloud_org"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        organization = getattr(request, "wacloud_organization", None)
        if organization is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": organization.pk}


class TemplateCreateThrottle(UserRateThrottle):
    setting_key = "TEMPLATE_CREATE"
    scope = "wacloud_template_create"
    view_scope = "template_create"


class MediaUploadThrottle(UserRateThrottle):
    setting_key = "MEDIA_UPLOAD"
    scope = "wacloud_media_upload"
    view_scope = "media_upload"
