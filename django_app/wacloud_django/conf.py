"""Settings: one dict, ``settings.WACLOUD``, read through :func:`get_setting`.

Values are read on every call (never cached at import), so ``override_settings``
and settings changed at run time take effect at once. Helpers below turn raw
values into checked ones and raise :class:`SettingError` naming the exact setting.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .exceptions import SettingError

_UNSET: Any = object()

#: Every documented setting and its default (docs/settings.md lists them all).
DEFAULTS: dict[str, Any] = {
    "API_VERSION": "v25.0",
    "BASE_URL": "https://graph.facebook.com",
    "APP_SECRET": None,
    "VERIFY_TOKEN": None,
    "ENCRYPTION_KEY": None,
    "ENCRYPTION_KEY_FALLBACKS": [],
    # Message text/content and media files encrypted at rest (docs/privacy.md); off by default.
    "ENCRYPT_MESSAGES": False,
    "ENCRYPT_MEDIA": False,
    "USE_CELERY": "auto",
    "RATE_LIMIT": {"PER_SECOND": 80, "PER_HOUR": None, "BACKEND": "memory"},
    # Per account, calls to Meta stop after a run of transient failures (docs/operations.md);
    # BACKEND None: RATE_LIMIT's backend.
    "CIRCUIT_BREAKER": {
        "ENABLED": True,
        "FAILURE_THRESHOLD": 5,
        "ERROR_RATE": 0.5,
        "WINDOW_SECONDS": 60,
        "MIN_CALLS": 20,
        "COOL_DOWN_SECONDS": 30,
        "MAX_COOL_DOWN_SECONDS": 300,
        "BACKEND": None,
    },
    "MEDIA_STORAGE": None,
    "MEDIA_DOWNLOAD": True,
    "MEDIA_UPLOAD_TO": "wacloud/media/%Y/%m/%d",
    "AUTO_MARK_READ": False,
    # Subscribe the app to a new integration's WABA webhooks (POST /<WABA_ID>/subscribed_apps)
    # once it is created (docs/onboarding.md); off: an admin does it from the API.
    "SUBSCRIBE_ON_SETUP": False,
    # WhatsApp Flows' data-exchange endpoint (docs/flows.md): the dotted path of a callable
    # handler(request) -> response dict, and the RSA private key (PEM text or a PEM file's path).
    "FLOWS_HANDLER": None,
    "FLOWS_PRIVATE_KEY": None,
    "FLOWS_PRIVATE_KEY_PASSWORD": None,
    # The web inbox's composer offers these texts as quick replies (docs/inbox.md).
    "INBOX_QUICK_REPLIES": [
        "Thanks for your message, we'll get back to you shortly.",
        "Could you share your order number?",
        "Is there anything else I can help you with?",
    ],
    # The inbox's WebSocket path (e.g. "/inbox/ws/", served by an ASGI server with Channels):
    # pages refresh on each live event. None: they poll every 3 seconds only (docs/inbox.md).
    "INBOX_LIVE_URL": None,
    # How often the inbox's pages poll while no live socket is connected (paused while one is).
    "INBOX_POLL_SECONDS": 3,
    "DEFAULT_COUNTRY_CODE": None,
    "WEBHOOK_MAX_BODY_BYTES": 3 * 1024 * 1024,
    "WEBHOOK_EVENT_RETENTION_DAYS": 30,
    "WEBHOOK_MAX_ATTEMPTS": 5,
    # Batch processing of stored webhooks (docs/webhooks.md, "Batch processing"): off, each body is
    # processed on its own. SIZE: bodies claimed at once; DRAIN: "auto" (a Celery task after the
    # intake, else inline after the request) or "command" (whatsapp_process_webhooks --loop only).
    "WEBHOOK_BATCH": {
        "ENABLED": False,
        "SIZE": 200,
        "DRAIN": "auto",
        "DEBOUNCE_SECONDS": 0.5,
        "TASK_SECONDS": 60,
    },
    "TASK_RETRY_BACKOFF_SECONDS": 30,
    "REQUEST_TIMEOUT": 30,
    "MAX_RETRIES": 3,
    "SEND_MAX_ATTEMPTS": 5,
    # Warn (log, token_expiring signal) this many days before an access token expires.
    "TOKEN_EXPIRY_WARNING_DAYS": 7,
    # REST API (docs/api.md): least role per action, throttles, media size, audit retention.
    "ROLES": {},
    "API_THROTTLE_RATES": {
        "USER": "1000/hour",
        "ORGANIZATION": "1000/hour",
        "TEMPLATE_CREATE": "10/hour",
        "MEDIA_UPLOAD": "100/hour",
    },
    "API_MEDIA_MAX_BYTES": 100 * 1024 * 1024,
    "API_AUTHENTICATION_CLASSES": None,
    "AUDIT_RETENTION_DAYS": 365,
    # Days kept per data type (docs/privacy.md); None keeps for ever. WEBHOOK_EVENT_DAYS and
    # AUDIT_DAYS default to WEBHOOK_EVENT_RETENTION_DAYS and AUDIT_RETENTION_DAYS.
    "RETENTION": {"MESSAGE_CONTENT_DAYS": None, "MEDIA_DAYS": None},
    # Models a contact may be linked to ("app_label.model"); None: any model outside wacloud.
    "CONTACT_LINK_MODELS": None,
    # Consent (docs/automation.md). None: the built-in keyword lists and confirmation texts
    # (automation/services/consent_keywords.py); {} turns keywords (or confirmations) off.
    "CONSENT_KEYWORDS": None,
    "CONSENT_CONFIRMATIONS": None,
    "MARKETING_REQUIRES_OPT_IN": False,
    # The help desk (docs/helpdesk.md): off unless ENABLED; keys merged over these defaults.
    "HELPDESK": {
        "ENABLED": False,
        "BACKEND": "wacloud_django.helpdesk.backends.ModelBackend",
        "LANGUAGE": "en",
        "SESSION_TIMEOUT_HOURS": 24,
        "SLA_HOURS": {"low": 72, "normal": 24, "high": 8, "urgent": 2},
        "COMMANDS": None,
        "TEXTS": None,
        # Sessions: "database" (HelpdeskSession rows) or "redis" (SESSION_REDIS_URL needed).
        "SESSION_BACKEND": "database",
        "SESSION_REDIS_URL": None,
        "SESSION_REDIS_PREFIX": "wacloud:helpdesk:",
        # Customers hear about status changes and assignments (docs/helpdesk.md).
        "NOTIFY_STATUS_CHANGES": True,
        # The django-helpdesk backend's queue: a slug, or {organization slug: queue slug}.
        "DJANGO_HELPDESK_QUEUE": None,
    },
    # Prometheus at <prefix>/metrics (docs/operations.md): off unless ENABLED; TOKEN: a bearer token.
    "METRICS": {"ENABLED": False, "TOKEN": None},
    # Scheduled messages (docs/automation.md): DAILY_SUMMARY_BUILDER, the dotted path of a
    # callable(subscription, local_date) that returns what a daily summary says.
    "AUTOMATION": {"DAILY_SUMMARY_BUILDER": None},
    # True: INFO-and-above log records keep phone numbers and tokens (log_privacy.py masks them).
    "LOG_PERSONAL_DATA": False,
    # Marketing campaigns (docs/automation.md): recipients per batch, requests in flight, how long
    # a batch's claim lasts before another worker takes it over, how long a reply counts.
    "CAMPAIGNS": {
        "BATCH_SIZE": 1000,
        "CONCURRENCY": 32,
        "CLAIM_LEASE_SECONDS": 600,
        "REPLY_WINDOW_HOURS": 72,
        "TASK_SECONDS": 300,
    },
    # Y/N confirmations (docs/automation.md); keys merged over these defaults. REPLIES and TEXTS:
    # None, the built-in words and texts (automation/services/confirmation_replies.py).
    # Analytics (docs/analytics.md): the rollup task rebuilds this many days back from its last
    # rolled-up day, so statuses and replies that arrive late are counted.
    "ANALYTICS": {"ROLLUP_REFRESH_DAYS": 3},
    "CONFIRMATIONS": {
        "REPLIES": None,
        "TEXTS": None,
        "DEFAULT_TIMEOUT_MINUTES": 30,
        "MAX_TIMEOUT_MINUTES": 7 * 24 * 60,
        "ONE_PENDING_PER_CONTACT": True,
        "TEMPLATE_NAME": "confirmation_request",
        "TEMPLATE_LANGUAGE": "en",
        "TEMPLATE_PARAMETERS": ["contact_name", "description", "details"],
    },
}

# Settings whose value is a dict merged key by key over the default dict.
_NESTED = {"RATE_LIMIT", "CIRCUIT_BREAKER", "API_THROTTLE_RATES", "RETENTION", "METRICS", "CAMPAIGNS",
           "ANALYTICS", "WEBHOOK_BATCH"}  # fmt: skip

#: Settings also read under the ``WHATSAPP_*`` names of earlier integrations: a
#: top-level Django setting, else an environment variable. ``WACLOUD`` wins over both.
ALIASES = {
    "AUTO_MARK_READ": "WHATSAPP_AUTO_MARK_READ",
    "DEFAULT_COUNTRY_CODE": "WHATSAPP_DEFAULT_COUNTRY_CODE",
}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


class EncryptionKeyError(SettingError):
    """``WACLOUD["ENCRYPTION_KEY"]`` (or a fallback key) is missing or malformed."""


_HEX_KEY = re.compile(r"^[0-9a-fA-F]{64}$")


def setting_name(name: str, key: str | None = None) -> str:
    """How a setting is spelled in messages: ``WACLOUD["RATE_LIMIT"]["PER_SECOND"]``."""
    return f'WACLOUD["{name}"]' + (f'["{key}"]' if key else "")


def user_settings() -> dict[str, Any]:
    """The project's ``WACLOUD`` dict (empty when unset)."""
    value = getattr(settings, "WACLOUD", None)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SettingError("WACLOUD", f"settings.WACLOUD must be a dict, got {type(value).__name__}")
    return value


def get_setting(name: str, default: Any = _UNSET) -> Any:
    """The value of ``settings.WACLOUD[name]``.

    Names in :data:`ALIASES` then try their ``WHATSAPP_*`` spelling (a Django
    setting, then an environment variable). Falls back to ``default`` when
    given, else to the documented default. A name that is neither documented
    nor given a default is a programming error (``KeyError``), so typos in code
    never silently read ``None``."""
    configured = user_settings()
    if name in _NESTED:
        merged = dict(DEFAULTS[name])
        value = configured.get(name) or {}
        if not isinstance(value, dict):
            raise SettingError(name, f"{setting_name(name)} must be a dict, got {type(value).__name__}")
        merged.update(value)
        return merged
    if name in configured:
        return configured[name]
    if name in ALIASES:
        value = _alias_value(name)
        if value is not _UNSET:
            return value
    if default is not _UNSET:
        return default
    if name in DEFAULTS:
        return DEFAULTS[name]
    raise KeyError(f"{setting_name(name)} is not a wacloud setting and no default was given")


def _alias_value(name: str) -> Any:
    """The value of ``name`` under its ``WHATSAPP_*`` alias, or ``_UNSET``."""
    alias = ALIASES[name]
    value = getattr(settings, alias, _UNSET)
    source = f"settings.{alias}"
    if value is _UNSET:
        value = os.environ.get(alias, _UNSET)
        source = f"the environment variable {alias}"
    if value is _UNSET:
        return _UNSET
    if name == "AUTO_MARK_READ" and isinstance(value, str):
        if value.strip().lower() not in _TRUE | _FALSE:
            raise SettingError(name, f"{source} must be True or False, got {value!r}")
        return value.strip().lower() in _TRUE
    if name == "DEFAULT_COUNTRY_CODE" and isinstance(value, (int, str)) and not isinstance(value, bool):
        return str(value).strip() or None
    return value


T = TypeVar("T")


class DerivedFromSetting(Generic[T]):
    """What ``build`` makes of a setting's value, made again only when the value differs
    (by ``==``) from the one last built from: for tables asked for on every inbound message
    while settings are still read on every call (and may change, as in tests)."""

    def __init__(self, build: Callable[[Any], T]) -> None:
        self._build = build
        self._last: tuple[Any, T] | None = None

    def __call__(self, value: Any) -> T:
        last = self._last
        if last is not None and last[0] == value:
            return last[1]
        made = self._build(value)
        self._last = (copy.deepcopy(value), made)  # a copy: a value changed in place is seen
        return made


def celery_installed() -> bool:
    try:
        import celery  # noqa: F401
    except ImportError:
        return False
    return True


def celery_app_configured() -> bool:
    """Whether the project created a Celery app (beyond Celery's own fallback app)."""
    if not celery_installed():
        return False
    from celery import _state

    return any(app.main != "default" for app in _state._get_active_apps())


def use_celery() -> bool:
    """Whether work goes to Celery tasks (True) or runs inline (False).

    ``"auto"`` means: Celery is installed and the project created a Celery app."""
    value = get_setting("USE_CELERY")
    if value == "auto":
        return celery_app_configured()
    if value is True:
        if not celery_installed():
            raise SettingError(
                "USE_CELERY", f"{setting_name('USE_CELERY')} is True but Celery is not installed"
            )
        return True
    if value is False:
        return False
    raise SettingError(
        "USE_CELERY", f"{setting_name('USE_CELERY')} must be 'auto', True or False, got {value!r}"
    )


def positive_int_setting(name: str, *, allow_none: bool = False) -> int | None:
    value = get_setting(name)
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise SettingError(name, f"{setting_name(name)} must be a positive integer, got {value!r}")
    return value


def webhook_max_body_bytes() -> int:
    return positive_int_setting("WEBHOOK_MAX_BODY_BYTES")  # type: ignore[return-value]


def parse_encryption_key(value: Any, name: str = "ENCRYPTION_KEY") -> bytes:
    """A 32-byte key from its 64-hex-character spelling."""
    if isinstance(value, str) and _HEX_KEY.match(value):
        return bytes.fromhex(value)
    shown = (
        "a value of the wrong length or with non-hex characters" if isinstance(value, str) else repr(value)
    )
    raise EncryptionKeyError(
        name,
        f"{setting_name(name)} must be 32 bytes written as 64 hexadecimal characters "
        f"(e.g. python -c 'import secrets; print(secrets.token_hex(32))'), got {shown}",
    )


__all__ = [
    "ALIASES",
    "DEFAULTS",
    "EncryptionKeyError",
    "ImproperlyConfigured",
    "SettingError",
    "celery_app_configured",
    "celery_installed",
    "get_setting",
    "parse_encryption_key",
    "setting_name",
    "use_celery",
    "webhook_max_body_bytes",
]
