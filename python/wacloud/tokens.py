"""What Meta's ``debug_token`` says about an access token (:meth:`wacloud.Client.debug_token`)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from . import _core

#: The permissions a token needs for wacloud: messages, and templates and the number's settings.
REQUIRED_TOKEN_SCOPES: tuple[str, ...] = tuple(_core.required_token_scopes())


def _utc(seconds: int) -> datetime | None:
    return datetime.fromtimestamp(seconds, tz=timezone.utc) if seconds else None


@dataclass(frozen=True)
class GranularScope:
    """A permission limited to some objects: ``target_ids`` are WABA (or page) ids;
    empty means every object the token's user can reach."""

    scope: str
    target_ids: tuple[str, ...]


@dataclass(frozen=True)
class TokenInfo:
    """What Meta's ``debug_token`` says about an access token. ``expires_at`` is
    ``None`` for a token that never expires (system user tokens);
    ``missing_permissions`` are those of :data:`REQUIRED_TOKEN_SCOPES` it lacks.
    An invalid token has ``valid`` false and Meta's reason in ``error_code``
    (190), ``error_subcode`` (463: expired, 460: password changed, ...) and
    ``error_message``."""

    valid: bool
    app_id: str
    type: str
    application: str
    user_id: str
    expires_at: datetime | None
    data_access_expires_at: datetime | None
    issued_at: datetime | None
    scopes: tuple[str, ...]
    granular_scopes: tuple[GranularScope, ...]
    missing_permissions: tuple[str, ...]
    error_code: int = 0
    error_subcode: int = 0
    error_message: str = ""

    @classmethod
    def _from_core(cls, raw: Mapping[str, Any]) -> TokenInfo:
        return cls(
            valid=bool(raw["is_valid"]),
            app_id=raw["app_id"],
            type=raw["type"],
            application=raw["application"],
            user_id=raw["user_id"],
            expires_at=_utc(raw["expires_at"]),
            data_access_expires_at=_utc(raw["data_access_expires_at"]),
            issued_at=_utc(raw["issued_at"]),
            scopes=tuple(raw["scopes"]),
            granular_scopes=tuple(GranularScope(scope, tuple(ids)) for scope, ids in raw["granular_scopes"]),
            missing_permissions=tuple(raw["missing_scopes"]),
            error_code=raw["error_code"],
            error_subcode=raw["error_subcode"],
            error_message=raw["error_message"],
        )

    @property
    def expired(self) -> bool:
        """Meta says the session expired (subcode 463), or ``expires_at`` has passed."""
        if self.error_subcode == 463:
            return True
        return self.expires_at is not None and self.expires_at.timestamp() <= time.time()

    def seconds_left(self, now: datetime | None = None) -> float | None:
        """Seconds until ``expires_at`` (negative once past); ``None`` when it never expires."""
        if self.expires_at is None:
            return None
        now = now or datetime.now(timezone.utc)
        return (self.expires_at - now).total_seconds()

    def target_ids(self, scope: str) -> tuple[str, ...] | None:
        """The objects ``scope`` is limited to; ``None`` when the token lacks the
        scope's granular entry (or it names no targets: every object)."""
        for granular in self.granular_scopes:
            if granular.scope == scope:
                return granular.target_ids or None
        return None

    def covers(self, waba_id: str) -> bool:
        """Whether every required permission that lists target ids includes ``waba_id``."""
        for scope in REQUIRED_TOKEN_SCOPES:
            targets = self.target_ids(scope)
            if targets is not None and waba_id not in targets:
                return False
        return True


__all__ = ["REQUIRED_TOKEN_SCOPES", "GranularScope", "TokenInfo"]
