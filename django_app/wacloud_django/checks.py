"""System checks for ``settings.WACLOUD`` (``manage.py check``). Each message
names the exact setting; ids are stable (docs/settings.md lists them)."""

from __future__ import annotations

import re
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import checks

from .conf import DEFAULTS, celery_installed, parse_encryption_key, setting_name
from .exceptions import SettingError

_API_VERSION = re.compile(r"^v\d+\.\d+$")
_REGION = re.compile(r"^[A-Z]{2}$")
_CALLING_CODE = re.compile(r"^\+?\d{1,3}$")


def _error(msg: str, id: int, hint: str | None = None) -> checks.CheckMessage:
    return checks.Error(msg, hint=hint, id=f"wacloud.E{id:03d}")


def _warning(msg: str, id: int, hint: str | None = None) -> checks.CheckMessage:
    return checks.Warning(msg, hint=hint, id=f"wacloud.W{id:03d}")


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _check_circuit_breaker() -> list[checks.CheckMessage]:
    from .services.circuit import settings_problem

    problem = settings_problem()
    return [_error(problem, 50)] if problem else []


@checks.register(checks.Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    raw = getattr(settings, "WACLOUD", None)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        return [_error(f"settings.WACLOUD must be a dict, got {type(raw).__name__}", 1)]
    conf = {**DEFAULTS, **raw}
    problems: list[checks.CheckMessage] = []

    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        problems.append(
            _warning(
                f"Unknown key(s) in settings.WACLOUD: {', '.join(unknown)}",
                2,
                hint=f"Known keys: {', '.join(sorted(DEFAULTS))}",
            )
        )

    key = conf["ENCRYPTION_KEY"]
    if key in (None, ""):
        problems.append(
            _warning(
                f"{setting_name('ENCRYPTION_KEY')} is not set: access tokens and app secrets are encrypted "
                "with a key derived from SECRET_KEY, so changing SECRET_KEY makes them unreadable.",
                1,
                hint="Set it to the output of: python -c 'import secrets; print(secrets.token_hex(32))'",
            )
        )
    else:
        try:
            parse_encryption_key(key)
        except SettingError as exc:
            problems.append(_error(str(exc), 2))
    fallbacks = conf["ENCRYPTION_KEY_FALLBACKS"]
    if not isinstance(fallbacks, (list, tuple)):
        problems.append(_error(f"{setting_name('ENCRYPTION_KEY_FALLBACKS')} must be a list", 3))
    else:
        for value in fallbacks:
            try:
                parse_encryption_key(value, "ENCRYPTION_KEY_FALLBACKS")
            except SettingError as exc:
                problems.append(_error(str(exc), 3))

    use_celery = conf["USE_CELERY"]
    if not (use_celery == "auto" or use_celery is True or use_celery is False):
        problems.append(
            _error(f"{setting_name('USE_CELERY')} must be 'auto', True or False, got {use_celery!r}", 4)
        )
    elif use_celery is True and not celery_installed():
        problems.append(
            _error(
                f"{setting_name('USE_CELERY')} is True but Celery is not installed",
                4,
                hint="pip install 'wacloud[celery]', or set it to 'auto' or False",
            )
        )

    problems += _check_rate_limit(raw.get("RATE_LIMIT", {}))
    problems += _check_circuit_breaker()

    for name, number in (("WEBHOOK_MAX_BODY_BYTES", 6), ("WEBHOOK_MAX_ATTEMPTS", 6)):
        if not _positive_int(conf[name]):
            problems.append(
                _error(f"{setting_name(name)} must be a positive integer, got {conf[name]!r}", number)
            )
    for name in ("WEBHOOK_EVENT_RETENTION_DAYS", "TASK_RETRY_BACKOFF_SECONDS"):
        if conf[name] is not None and not _positive_int(conf[name]):
            problems.append(
                _error(f"{setting_name(name)} must be a positive integer or None, got {conf[name]!r}", 7)
            )

    storage = conf["MEDIA_STORAGE"]
    if storage is not None and storage not in getattr(settings, "STORAGES", {}):
        problems.append(
            _error(
                f"{setting_name('MEDIA_STORAGE')} is {storage!r}, which is not a key of settings.STORAGES", 8
            )
        )
    if not isinstance(conf["MEDIA_UPLOAD_TO"], str) or not conf["MEDIA_UPLOAD_TO"]:
        problems.append(_error(f"{setting_name('MEDIA_UPLOAD_TO')} must be a non-empty string", 8))

    if not isinstance(conf["API_VERSION"], str) or not _API_VERSION.match(conf["API_VERSION"]):
        problems.append(
            _error(f"{setting_name('API_VERSION')} must look like 'v25.0', got {conf['API_VERSION']!r}", 9)
        )
    base_url = conf["BASE_URL"]
    if not isinstance(base_url, str) or not base_url.startswith(("https://", "http://")):
        problems.append(_error(f"{setting_name('BASE_URL')} must be an http(s) URL, got {base_url!r}", 10))

    for name in ("MEDIA_DOWNLOAD", "AUTO_MARK_READ", "ENCRYPT_MESSAGES", "ENCRYPT_MEDIA"):
        if not isinstance(conf[name], bool):
            problems.append(_error(f"{setting_name(name)} must be True or False, got {conf[name]!r}", 11))
    for name in ("APP_SECRET", "VERIFY_TOKEN"):
        if conf[name] is not None and not isinstance(conf[name], str):
            problems.append(_error(f"{setting_name(name)} must be a string or None", 12))

    country = conf["DEFAULT_COUNTRY_CODE"]
    if country is not None and not (
        isinstance(country, str) and (_REGION.match(country) or _CALLING_CODE.match(country))
    ):
        problems.append(
            _error(
                f"{setting_name('DEFAULT_COUNTRY_CODE')} must be a region code like 'US' or a calling code "
                f"like '1', got {country!r}",
                13,
            )
        )

    if not apps.is_installed("django.contrib.contenttypes"):
        problems.append(_error("wacloud_django needs 'django.contrib.contenttypes' in INSTALLED_APPS", 14))

    from .automation.services.consent_keywords import setting_problems  # reads the same settings

    problems += [_error(problem, 16) for problem in setting_problems()]
    from .helpdesk.config import setting_problems as helpdesk_problems

    problems += [_error(problem, 17) for problem in helpdesk_problems()]
    from .automation.services.confirmation_replies import setting_problems as confirmation_problems

    problems += [_error(problem, 60) for problem in confirmation_problems()]
    from .services.webhook_batch import setting_problems as batch_problems

    problems += [_error(problem, 70) for problem in batch_problems()]
    from .services.flows import setting_problems as flows_problems

    problems += [_error(problem, 80) for problem in flows_problems()]
    return problems


def _check_rate_limit(value: Any) -> list[checks.CheckMessage]:
    if not isinstance(value, dict):
        return [_error(f"{setting_name('RATE_LIMIT')} must be a dict, got {type(value).__name__}", 5)]
    problems = []
    for key in sorted(set(value) - set(DEFAULTS["RATE_LIMIT"])):
        problems.append(_error(f"{setting_name('RATE_LIMIT', key)} is not a known key", 5))
    merged = {**DEFAULTS["RATE_LIMIT"], **value}
    for key in ("PER_SECOND", "PER_HOUR"):
        if merged[key] is not None and not _positive_int(merged[key]):
            problems.append(
                _error(
                    f"{setting_name('RATE_LIMIT', key)} must be a positive integer or None, "
                    f"got {merged[key]!r}",
                    5,
                )
            )
    from .services.clients import rate_limit_backend_problem

    backend_problem = rate_limit_backend_problem(merged["BACKEND"])
    if backend_problem:
        problems.append(_error(backend_problem, 5))
    return problems


#: Accounts whose stored secrets ``check_stored_secrets`` tries to decrypt (bounded: it runs on every start).
_SECRET_CHECK_LIMIT = 1000


@checks.register(checks.Tags.security)
def check_stored_secrets(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``ENCRYPTION_KEY`` (with its fallbacks) must decrypt every secret already stored:
    a wrong key otherwise shows up only when a send or a webhook fails."""
    from django.db import DatabaseError

    from .crypto import decrypt
    from .models import BusinessAccount

    encrypted = ("access_token_encrypted", "app_secret_encrypted", "verify_token_encrypted")
    try:
        rows = list(BusinessAccount.objects.values_list("phone_number_id", *encrypted)[:_SECRET_CHECK_LIMIT])
    except (DatabaseError, RuntimeError):
        # No tables yet (before migrate), no database, or a test run that forbids database
        # access (pytest-django raises RuntimeError): nothing stored to check.
        return []
    unreadable = []
    for phone_number_id, *tokens in rows:
        for field, token in zip(encrypted, tokens, strict=True):
            if not token:
                continue
            name = field.removesuffix("_encrypted")
            try:
                decrypt(token, f"wacloud.BusinessAccount.{name}")
            except (SettingError, ValueError) as exc:
                unreadable.append(f"account {phone_number_id} {name}: {exc}")
    if not unreadable:
        return []
    more = f" (and {len(unreadable) - 3} more)" if len(unreadable) > 3 else ""
    return [
        _error(
            f"{setting_name('ENCRYPTION_KEY')} cannot decrypt {len(unreadable)} stored secret(s): "
            + "; ".join(unreadable[:3])
            + more,
            15,
            hint=f"Set {setting_name('ENCRYPTION_KEY')} to the key they were stored with, or add that key "
            f"to {setting_name('ENCRYPTION_KEY_FALLBACKS')}; sends fail (and stay retriable) until then.",
        )
    ]


@checks.register(checks.Tags.security)
def check_encrypted_data(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The configured keys must read a sample of every encrypted kind stored (message
    content, captions, media files); values still on a fallback key are worth rotating."""
    from django.db import DatabaseError

    from .services.key_rotation import stored_key_problems

    try:
        errors, warnings = stored_key_problems()
    except (DatabaseError, RuntimeError, SettingError):
        # No tables or no database access (as check_stored_secrets); a bad key is E002/E003.
        return []
    problems = []
    if errors:
        problems.append(
            _error(
                f"{setting_name('ENCRYPTION_KEY')} and {setting_name('ENCRYPTION_KEY_FALLBACKS')} cannot "
                "decrypt stored data: " + "; ".join(errors),
                40,
                hint="Add the key those values were stored with to "
                f"{setting_name('ENCRYPTION_KEY_FALLBACKS')}.",
            )
        )
    if warnings:
        problems.append(
            _warning(
                "Encrypted data is still on an old key: " + "; ".join(warnings),
                40,
                hint="Run manage.py whatsapp_rotate_key, then remove the old key from "
                f"{setting_name('ENCRYPTION_KEY_FALLBACKS')}.",
            )
        )
    return problems
