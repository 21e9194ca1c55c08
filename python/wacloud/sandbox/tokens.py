"""The access tokens the sandbox knows: the configured one and any registered
for rotation tests, each with an expiry (on the sandbox clock), scopes and the
WABAs its permissions reach. Backs the bearer check of every Graph request and
Meta's ``GET /debug_token``.

Tokens live in memory only (never in the state file): they are configuration,
and a restart starts again from ``SandboxConfig``."""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable
from typing import Any

from .config import SandboxConfig
from .graph_errors import GraphError, invalid_parameter

#: What a WhatsApp Cloud API app token carries (the two wacloud needs, plus the usual extra).
REQUIRED_SCOPES = ("whatsapp_business_messaging", "whatsapp_business_management")
DEFAULT_SCOPES = (*REQUIRED_SCOPES, "public_profile")
TOKEN_TYPES = ("SYSTEM_USER", "USER", "PAGE", "APP")
APP_ID = "1234567890123456"
APPLICATION = "wacloud sandbox app"
USER_ID = "122100000000000001"
# A user token's data access lasts 90 days after the user last used the app.
DATA_ACCESS_SECONDS = 90 * 24 * 3600

_INVALID = "Invalid OAuth access token - Cannot parse access token"
_REVOKED = "Error validating access token: The session has been invalidated by the user or by Meta."
OPTIONS = frozenset(
    "expires_in expires_at scopes waba_ids granular_scopes type valid data_access_expires_at".split()
)


@functools.lru_cache(maxsize=256)  # every send records one: a SHA-256 per token, not per send
def fingerprint(token: str) -> str:
    """A short, stable stand-in for a token in views and message records (never the token)."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def _expired_message(expires_at: float, now: float) -> str:
    stamp = "%A, %d-%b-%y %H:%M:%S UTC"
    expired, current = (time.strftime(stamp, time.gmtime(moment)) for moment in (expires_at, now))
    return f"Error validating access token: Session has expired on {expired}. The current time is {current}."


def _string_list(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise invalid_parameter(f"{name} must be a list of non-empty strings.")
    return list(value)


class TokenBook:
    """Token -> record. ``now`` is the sandbox clock, so advancing it expires tokens."""

    def __init__(self, config: SandboxConfig, now: Callable[[], float]) -> None:
        self.config = config
        self.now = now
        self.tokens: dict[str, dict[str, Any]] = {}
        self.reset()

    def reset(self) -> None:
        """Only the configured token (never expiring, every scope), then ``config.tokens``."""
        self.tokens.clear()
        self.register(self.config.access_token)
        for token, options in (self.config.tokens or {}).items():
            self.register(token, **options)

    # -- registration -------------------------------------------------------------------
    def register(self, token: str, **options: Any) -> dict[str, Any]:
        """Add ``token`` or change it. Options: ``expires_in`` (seconds from now on the sandbox
        clock) or ``expires_at`` (Unix seconds; 0 or None: never), ``scopes``, ``waba_ids``
        (the WABAs the WhatsApp scopes reach; default the sandbox's), ``granular_scopes``
        (Meta's list, instead of ``waba_ids``), ``type``, ``valid`` (false: revoked),
        ``data_access_expires_at``. Raises :class:`GraphError` (100) for a bad option."""
        if not isinstance(token, str) or not token.strip():
            raise invalid_parameter("token must be a non-empty string.")
        unknown = set(options) - OPTIONS
        if unknown:
            raise invalid_parameter(f"Unknown token option(s) {sorted(unknown)}; known: {sorted(OPTIONS)}.")
        now = self.now()
        record = self.tokens.get(token) or {
            "issued_at": int(now),
            "expires_at": 0,
            "scopes": list(DEFAULT_SCOPES),
            "waba_ids": [self.config.waba_id],
            "granular_scopes": None,
            "type": "SYSTEM_USER",
            "valid": True,
            "data_access_expires_at": 0,
        }
        record = dict(record)
        if options.get("expires_in") is not None:
            seconds = options["expires_in"]
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
                raise invalid_parameter("expires_in must be a number of seconds.")
            record["expires_at"] = int(now + seconds)
        elif "expires_at" in options:
            value = options["expires_at"] or 0
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise invalid_parameter("expires_at must be Unix seconds (0 or null: never).")
            record["expires_at"] = int(value)
        if "scopes" in options:
            record["scopes"] = _string_list(options["scopes"], "scopes")
        if "waba_ids" in options:
            record["waba_ids"] = _string_list(options["waba_ids"], "waba_ids")
        if "granular_scopes" in options:
            record["granular_scopes"] = self._granular(options["granular_scopes"])
        if "type" in options:
            if options["type"] not in TOKEN_TYPES:
                raise invalid_parameter(f"type must be one of {', '.join(TOKEN_TYPES)}.")
            record["type"] = options["type"]
        if "valid" in options:
            if not isinstance(options["valid"], bool):
                raise invalid_parameter("valid must be true or false.")
            record["valid"] = options["valid"]
        if "data_access_expires_at" in options:
            record["data_access_expires_at"] = int(options["data_access_expires_at"] or 0)
        elif record["type"] == "USER" and not record["data_access_expires_at"]:
            record["data_access_expires_at"] = int(now + DATA_ACCESS_SECONDS)
        self.tokens[token] = record
        return self.view(token)

    @staticmethod
    def _granular(value: Any) -> list[dict[str, Any]] | None:
        if value is None:
            return None
        if not isinstance(value, list):
            raise invalid_parameter("granular_scopes must be a list of {scope, target_ids}.")
        checked = []
        for item in value:
            if not isinstance(item, dict) or not isinstance(item.get("scope"), str):
                raise invalid_parameter("each granular scope needs a scope string.")
            entry: dict[str, Any] = {"scope": item["scope"]}
            if item.get("target_ids") is not None:
                entry["target_ids"] = _string_list(item["target_ids"], "target_ids")
            checked.append(entry)
        return checked

    # -- answers ----------------------------------------------------------------------
    def granular_scopes(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        if record["granular_scopes"] is not None:
            return [dict(item) for item in record["granular_scopes"]]
        # Meta lists the WABAs a WhatsApp permission reaches; other scopes reach everything.
        return [
            {"scope": scope, "target_ids": list(record["waba_ids"])}
            if scope.startswith("whatsapp_")
            else {"scope": scope}
            for scope in record["scopes"]
        ]

    def problem(self, token: str) -> GraphError | None:
        """Why a request with ``token`` is refused (Meta's 190 error), or None."""
        record = self.tokens.get(token)
        if record is None:
            return GraphError(190, message=_INVALID, with_error_data=False)
        if not record["valid"]:
            return GraphError(190, message=_REVOKED, subcode=460, with_error_data=False)
        expires_at = record["expires_at"]
        if expires_at and expires_at <= (now := self.now()):
            expired = _expired_message(expires_at, now)
            return GraphError(190, message=expired, subcode=463, with_error_data=False)
        return None

    def debug(self, input_token: str) -> dict[str, Any]:
        """Meta's ``debug_token`` answer for ``input_token``."""
        record = self.tokens.get(input_token)
        if record is None:
            return {"data": {"error": {"code": 190, "message": _INVALID}, "is_valid": False, "scopes": []}}
        data: dict[str, Any] = {
            "app_id": APP_ID,
            "type": record["type"],
            "application": APPLICATION,
            "data_access_expires_at": record["data_access_expires_at"],
            "expires_at": record["expires_at"],
            "is_valid": True,
            "issued_at": record["issued_at"],
            "scopes": list(record["scopes"]),
            "granular_scopes": self.granular_scopes(record),
            "user_id": USER_ID,
        }
        problem = self.problem(input_token)
        if problem is not None:
            data["is_valid"] = False
            data["error"] = {"code": problem.code, "message": problem.message}
            if problem.subcode is not None:
                data["error"]["subcode"] = problem.subcode
        return {"data": data}

    def view(self, token: str) -> dict[str, Any]:
        """A token as the control API shows it: its fingerprint, never the token itself."""
        record = self.tokens[token]
        problem = self.problem(token)
        return {
            "fingerprint": fingerprint(token),
            "primary": token == self.config.access_token,
            "usable": problem is None,
            **{key: value for key, value in record.items() if key != "granular_scopes"},
            "granular_scopes": self.granular_scopes(record),
        }

    def views(self) -> list[dict[str, Any]]:
        return [self.view(token) for token in self.tokens]
