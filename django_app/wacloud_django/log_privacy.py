"""Keep personal data and secrets out of wacloud's logs (docs/operations.md, "Logs").

:class:`PersonalDataFilter` rewrites every record of INFO and above before any handler
sees it: phone numbers are masked (``+97212****89``: the country code, two digits, the
last two), access tokens (``EAA...``, ``Bearer ...``, ``access_token=...``) and the
secrets configured in ``WACLOUD`` (app secret, verify token, encryption keys, the metrics
token) and ``SECRET_KEY`` are replaced, in the message and in the traceback.
``WACLOUD["LOG_PERSONAL_DATA"] = True`` turns the masking off; DEBUG records are never
masked, so a developer who turns DEBUG on sees everything.

Message text cannot be recognised in free text, so wacloud's code never puts it in a
log record at all (records name messages by id and wamid, contacts by id).

Every wacloud module takes its logger from :func:`get_logger`, which attaches this filter
and :class:`~wacloud_django.correlation.CorrelationIdFilter` to it; the app's ``ready()``
calls :func:`install` for the ``wacloud`` loggers created elsewhere (the sandbox, a host's
own) and for Django's request loggers (the REST API's paths hold phone numbers). A host's
``LOGGING`` is left alone: filters are added to loggers, never handlers.
"""

from __future__ import annotations

import logging
import re
from typing import Any

#: A standalone run of 8 to 15 digits (E.164's longest), optionally after ``+``: not part
#: of a word, a decimal or a longer run (Meta's 16+ digit ids and hex digests stay readable).
PHONE_PATTERN = re.compile(r"(?<![\w.+])\+?\d{8,15}(?![\w]|\.\d)")
#: A business-scoped user id (BSUID), which names a user as a number does: ``US.1349...``,
#: ``US.ENT.1181...`` (an id part with a digit, so words such as ``OK.Thanks`` stay).
USER_ID_PATTERN = re.compile(r"(?<![\w.])([A-Z]{2}\.(?:ENT\.)?)(?=[A-Za-z0-9]*\d)[A-Za-z0-9]{6,128}(?!\w)")
_TOKEN_PATTERNS = (
    # Meta's user and system user access tokens start with EAA.
    (re.compile(r"(?<![A-Za-z0-9])EAA[A-Za-z0-9_\-]{3,}"), "EAA[redacted]"),
    (re.compile(r"(?i)\b(Bearer\s+)[A-Za-z0-9._~+/=\-]+"), r"\1[redacted]"),
    # key=value in URLs and key: value / "key": "value" in dicts and JSON.
    (
        re.compile(
            r"(?i)(\b(?:access_token|appsecret_proof|app_secret|verify_token|client_secret|hub\.verify_token)"
            r"[\"']?\s*[=:]\s*[\"']?)[^\"'&\s,}]+"
        ),
        r"\1[redacted]",
    ),
)
MASK = "****"
#: Configured secrets shorter than this are not searched for (they would mask ordinary words).
_MIN_SECRET_LENGTH = 6


def mask_phone(number: str) -> str:
    """``+97212****89`` for ``972123456789``: the country code and the next two digits, the
    last two, never fewer than three digits hidden. A BSUID: ``US.****18``."""
    if USER_ID_PATTERN.fullmatch(number):
        return USER_ID_PATTERN.sub(lambda match: f"{match.group(1)}{MASK}{match.group()[-2:]}", number)
    digits = number.lstrip("+")
    country = _country_code(digits)
    head = digits[: len(country) + 2]
    if len(digits) - len(head) - 2 < 3:
        head = digits[: len(country)]
    if len(digits) - len(head) - 2 < 3:
        head = digits[:1]
    return f"+{head}{MASK}{digits[-2:]}"


def _country_code(digits: str) -> str:
    from wacloud import phone
    from wacloud.errors import InvalidPhoneNumber

    try:
        code = str(phone.parse("+" + digits).country_code)
    except (InvalidPhoneNumber, ValueError):
        return digits[:1]
    return code if code != "0" and digits.startswith(code) else digits[:1]


def configured_secrets() -> list[str]:
    """The secret values in the settings (read at call time), longest first."""
    from django.conf import settings

    from .conf import get_setting

    if not settings.configured:
        return []
    values: list[Any] = [getattr(settings, "SECRET_KEY", None)]
    try:
        values += [get_setting(name) for name in ("APP_SECRET", "VERIFY_TOKEN", "ENCRYPTION_KEY")]
        values += list(get_setting("ENCRYPTION_KEY_FALLBACKS") or [])
        values.append((get_setting("METRICS") or {}).get("TOKEN"))
    except Exception:  # a malformed WACLOUD: the system checks say so; logging must go on
        pass
    found = {value for value in values if isinstance(value, str) and value}
    return sorted((value for value in found if len(value) >= _MIN_SECRET_LENGTH), key=len, reverse=True)


def redact(text: str, secrets: list[str] | None = None) -> str:
    """``text`` with phone numbers masked and tokens and ``secrets`` replaced."""
    for secret in configured_secrets() if secrets is None else secrets:
        text = text.replace(secret, "[redacted secret]")
    for pattern, replacement in _TOKEN_PATTERNS:
        text = pattern.sub(replacement, text)
    text = USER_ID_PATTERN.sub(lambda match: mask_phone(match.group()), text)
    return PHONE_PATTERN.sub(lambda match: mask_phone(match.group()), text)


def personal_data_allowed() -> bool:
    from .conf import get_setting

    try:
        return get_setting("LOG_PERSONAL_DATA") is True
    except Exception:  # settings not configured or WACLOUD malformed: keep masking
        return False


class PersonalDataFilter(logging.Filter):
    """Masks records of INFO and above in place (never drops one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO or getattr(record, "wacloud_redacted", False):
            return True
        if personal_data_allowed():
            return True
        secrets = configured_secrets()
        try:
            message = record.getMessage()
        except Exception:  # the handler reports the broken format call; keep the bare template
            message = str(record.msg)
        record.msg, record.args = redact(message, secrets), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, secrets)
        record.wacloud_redacted = True
        return True


_FILTERS: list[logging.Filter] = []


def _filters() -> list[logging.Filter]:
    if not _FILTERS:
        from .correlation import CorrelationIdFilter

        _FILTERS.extend([CorrelationIdFilter(), PersonalDataFilter()])
    return _FILTERS


def attach(logger: logging.Logger) -> logging.Logger:
    for log_filter in _filters():
        if not any(type(present) is type(log_filter) for present in logger.filters):
            logger.addFilter(log_filter)
    return logger


def get_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` with the correlation id and the privacy filter attached."""
    return attach(logging.getLogger(name))


#: Django's loggers that write request paths: wacloud's REST API has phone numbers in
#: its paths (``messages/<wa_id>``), and a 404 or 400 there is logged with the path.
REQUEST_LOGGERS = ("django.request", "django.server")


def install() -> None:
    """Attach the filters to ``wacloud`` and every ``wacloud.*`` logger that exists now,
    and the privacy filter to Django's request loggers."""
    attach(logging.getLogger("wacloud"))
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("wacloud."):
            attach(logging.getLogger(name))
    for name in REQUEST_LOGGERS:
        request_logger = logging.getLogger(name)
        if not any(isinstance(present, PersonalDataFilter) for present in request_logger.filters):
            request_logger.addFilter(PersonalDataFilter())
