"""Settings: one dict, ``settings.WACLOUD``, read through :func:`get_setting`.

Values are read on every call (never cached at import), so ``override_settings``
and settings changed at run time take effect at once. Helpers below turn raw
values into checked ones and raise :class:`SettingError` naming the exact setting.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .exceptions import SettingError

_UNSET: Any = object()

#: Every documented setting and its default (docs/settings.md lists them all).
DEFAULTS: dict[str, Any] = {
    "API_VERSION": "v21.0",
    "BASE_URL": "https://graph.facebook.com",
    "APP_SECRET": None,
    "VERIFY_TOKEN": None,
    "ENCRYPTION_KEY": None,
    "ENCRYPTION_KEY_FALLBACKS": [],
    "USE_CELERY": "auto",
    "RATE_LIMIT": {"PER_SECOND": 80, "PER_HOUR": None, "BACKEND": "memory"},
    "MEDIA_STORAGE": None,
    "MEDIA_DOWNLOAD": True,
    "MEDIA_UPLOAD_TO": "wacloud/media/%Y/%m/%d",
    "AUTO_MARK_READ": False,
    "DEFAULT_COUNTRY_CODE": None,
    "WEBHOOK_MAX_BODY_BYTES": 3 * 1024 * 1024,
    "WEBHOOK_EVENT_RETENTION_DAYS": 30,
    "WEBHOOK_MAX_ATTEMPTS": 5,
    "TASK_RETRY_BACKOFF_SECONDS": 30,
    "REQUEST_TIMEOUT": 30,
    "MAX_RETRIES": 3,
    "SEND_MAX_ATTEMPTS": 5,
}

# Settings whose value is a dict merged key by key over the default dict.
_NESTED = {"RATE_LIMIT"}


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

    Falls back to ``default`` when given, else to the documented default. A name
    that is neither documented nor given a default is a programming error
    (``KeyError``), so typos in code never silently read ``None``."""
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
    if default is not _UNSET:
        return default
    if name in DEFAULTS:
        return DEFAULTS[name]
    raise KeyError(f"{setting_name(name)} is not a wacloud setting and no default was given")


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
