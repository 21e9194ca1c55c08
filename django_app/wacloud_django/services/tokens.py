"""Access tokens: what Meta's ``debug_token`` says about them, rotation without
downtime, and the expiry warning.

Rotation checks the new token first (valid, unexpired, both WhatsApp permissions,
and the account's WABA among the targets when Meta lists them), then stores it
encrypted in one audited transaction. Nothing restarts: :func:`clients.client_for`
keys its cache by the encrypted token, so the next send of every process builds a
client with the new token, while a send already in flight finishes on the client
it holds (the old token stays valid at Meta until it expires or is revoked)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from django.db import transaction
from django.utils import timezone

from wacloud.client import REQUIRED_TOKEN_SCOPES, TokenInfo
from wacloud.errors import AuthenticationError, GraphAPIError, WacloudError

from ..conf import get_setting, setting_name
from ..exceptions import AccountNotConfigured, SettingError
from ..log_privacy import get_logger
from ..models import AccessTokenStatus, BusinessAccount
from . import audit
from .accounts import client_for_account

logger = get_logger("wacloud.tokens")

#: Meta's subcode for a token whose session has expired.
EXPIRED_SUBCODE = 463


class TokenRejected(WacloudError, ValueError):
    """A new access token that cannot replace the stored one; the stored one stays.
    ``reason``: ``"empty"``, ``"unchanged"``, ``"invalid"``, ``"expired"``,
    ``"missing_permissions"``, ``"wrong_waba"`` or ``"unverifiable"`` (Meta could not
    be asked); ``info`` is Meta's ``debug_token`` answer when there is one."""

    def __init__(self, reason: str, message: str, info: TokenInfo | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.info = info


def token_fingerprint(token: str) -> str:
    """A short digest naming a token in stored statuses and logs (never the token)."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


# -- asking Meta --------------------------------------------------------------------------------


def _client(account: BusinessAccount, token: str | None = None) -> Any:
    timeout = float(get_setting("REQUEST_TIMEOUT", 30))
    if token is None:
        return client_for_account(account, timeout=timeout, max_retries=1)
    from wacloud import Client

    return Client(
        token,
        account.phone_number_id,
        waba_id=account.waba_id or None,
        api_version=account.effective_api_version,
        base_url=get_setting("BASE_URL"),
        timeout=timeout,
        max_retries=1,
    )


def _refused_info(error: GraphAPIError) -> TokenInfo:
    """A TokenInfo for a token Meta refused outright (it would not even debug itself)."""
    return TokenInfo(
        valid=False, app_id="", type="", application="", user_id="", expires_at=None,
        data_access_expires_at=None, issued_at=None, scopes=(), granular_scopes=(),
        missing_permissions=REQUIRED_TOKEN_SCOPES, error_code=int(error.code or 190),
        error_subcode=int(getattr(error, "subcode", 0) or 0), error_message=str(error),
    )  # fmt: skip


def inspect_token(account: BusinessAccount, token: str | None = None) -> TokenInfo:
    """Meta's ``debug_token`` for ``token`` (default: the account's stored one).

    The token asks about itself. When Meta refuses it outright (expired, revoked), the
    account's stored token, if any, asks instead, which gives the expiry and scopes;
    failing that, the refusal becomes an invalid TokenInfo. Network failures raise."""
    try:
        return _client(account, token).debug_token()
    except AuthenticationError as error:
        if token is not None and _stored_token(account):
            try:
                return _client(account).debug_token(token)
            except AuthenticationError:
                pass
        return _refused_info(error)


def _stored_token(account: BusinessAccount) -> str | None:
    """The account's token, or None when there is none or it cannot be decrypted (a rotation
    is then the way to put a readable one back)."""
    if not account.has_access_token:
        return None
    try:
        return account.access_token
    except (WacloudError, SettingError):
        return None


def token_problems(
    account: BusinessAccount, info: TokenInfo, now: datetime | None = None
) -> list[tuple[str, str]]:
    """Why ``info``'s token cannot serve ``account``: ``[(reason, message)]``, empty when it can."""
    now = now or timezone.now()
    expired = info.error_subcode == EXPIRED_SUBCODE or (
        info.expires_at is not None and info.expires_at <= now
    )
    if expired:
        when = f" on {info.expires_at:%Y-%m-%d %H:%M} UTC" if info.expires_at else ""
        return [("expired", f"the token expired{when}")]
    if not info.valid:
        return [("invalid", f"Meta does not accept the token: {info.error_message or 'not valid'}")]
    problems = []
    if info.missing_permissions:
        problems.append(("missing_permissions", f"the token lacks {', '.join(info.missing_permissions)}"))
    if account.waba_id and not info.covers(account.waba_id):
        problems.append(
            ("wrong_waba", f"the token's WhatsApp permissions do not reach WABA {account.waba_id}")
        )
    return problems


def _store_status(account: BusinessAccount, token: str, info: TokenInfo, **extra: Any) -> AccessTokenStatus:
    values = {
        "fingerprint": token_fingerprint(token),
        "checked_at": timezone.now(),
        "is_valid": info.valid,
        "expires_at": info.expires_at,
        "data_access_expires_at": info.data_access_expires_at,
        "token_type": info.type,
        "app_id": info.app_id,
        "user_id": info.user_id,
        "scopes": list(info.scopes),
        "granular_scopes": [
            {"scope": g.scope, "target_ids": list(g.target_ids)} for g in info.granular_scopes
        ],
        "missing_permissions": list(info.missing_permissions),
        "error": info.error_message[:500],
        **extra,
    }
    status, _ = AccessTokenStatus.objects.update_or_create(account=account, defaults=values)
    return status


def refresh_token_status(account: BusinessAccount) -> AccessTokenStatus:
    """Ask Meta about the account's stored token and keep the answer."""
    if not account.has_access_token:
        raise AccountNotConfigured(f"account {account.phone_number_id} has no access token")
    token = account.access_token
    info = inspect_token(account)
    current = AccessTokenStatus.objects.filter(account=account, fingerprint=token_fingerprint(token)).first()
    # The warning day survives a refresh of the same token, not a new one.
    extra = {"warned_on": current.warned_on if current else None}
    return _store_status(account, token, info, **extra)


def current_status(account: BusinessAccount) -> AccessTokenStatus | None:
    """The stored status, when it describes the token the account holds now."""
    return current_statuses([account])[account.pk]


def current_statuses(accounts: list[BusinessAccount]) -> dict[int, AccessTokenStatus | None]:
    """:func:`current_status` of many accounts, in one query."""
    found = {s.account_id: s for s in AccessTokenStatus.objects.filter(account__in=[a.pk for a in accounts])}
    result: dict[int, AccessTokenStatus | None] = {}
    for account in accounts:
        status = found.get(account.pk)
        token = _stored_token(account) if status is not None else None
        matches = token is not None and status is not None and status.fingerprint == token_fingerprint(token)
        result[account.pk] = status if matches else None
    return result


# -- rotation -----------------------------------------------------------------------------------


def rotate_access_token(account: BusinessAccount, new_token: str, actor: Any = None) -> AccessTokenStatus:
    """Replace the account's token with ``new_token`` after Meta vouches for it; raises
    :class:`TokenRejected` (the stored token untouched) when it cannot serve the account."""
    new_token = (new_token or "").strip()
    if not new_token:
        raise TokenRejected("empty", "the new access token is empty")
    if any(c.isspace() for c in new_token):
        raise TokenRejected("invalid", "an access token has no spaces or line breaks")
    if _stored_token(account) == new_token:
        raise TokenRejected("unchanged", "the new access token is the one already stored")
    try:
        info = inspect_token(account, new_token)
    except GraphAPIError as error:
        raise TokenRejected("unverifiable", f"Meta could not be asked about the token: {error}") from None
    problems = token_problems(account, info)
    if problems:
        reason, _ = problems[0]
        message = "; ".join(text for _, text in problems)
        raise TokenRejected(reason, f"token not rotated for {account.phone_number_id}: {message}", info)
    with transaction.atomic():
        locked = BusinessAccount.objects.select_for_update().get(pk=account.pk)
        locked.access_token = new_token
        locked.save(update_fields=["access_token_encrypted", "updated_at"])
        status = _store_status(locked, new_token, info, rotated_at=timezone.now(), warned_on=None)
        audit.record(
            "integration.rotate_token",
            organization=locked.organization,
            target=locked,
            actor=actor,
            changes={
                "access_token": [audit.MASK, audit.MASK],
                "token_fingerprint": [None, status.fingerprint],
                "token_expires_at": [None, status.expires_at.isoformat() if status.expires_at else "never"],
            },
        )
    account.access_token_encrypted = locked.access_token_encrypted
    account.updated_at = locked.updated_at
    logger.info("access token of account %s rotated (now %s)", account.phone_number_id, status.fingerprint)
    return status


# -- expiry ---------------------------------------------------------------------------------------


def warning_days() -> int:
    days = get_setting("TOKEN_EXPIRY_WARNING_DAYS", 7)
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        name = setting_name("TOKEN_EXPIRY_WARNING_DAYS")
        raise SettingError(
            "TOKEN_EXPIRY_WARNING_DAYS", f"{name} must be a whole number of days >= 0, got {days!r}"
        )
    return days


def days_left(expires_at: datetime | None, now: datetime | None = None) -> int | None:
    """Whole days until ``expires_at`` (0 on its last day, negative once past); None: never expires."""
    if expires_at is None:
        return None
    return (expires_at - (now or timezone.now())) // timedelta(days=1)


def describe(status: AccessTokenStatus | None, now: datetime | None = None) -> dict[str, Any]:
    """A stored status as JSON-ready data for commands and the API."""
    if status is None:
        return {"checked": False}
    return {
        "checked": True,
        "checked_at": status.checked_at.isoformat(),
        "valid": status.is_valid,
        "type": status.token_type,
        "expires_at": status.expires_at.isoformat() if status.expires_at else None,
        "days_left": days_left(status.expires_at, now),
        "missing_permissions": list(status.missing_permissions),
        "error": status.error,
    }


def render(data: dict[str, Any]) -> str:
    """One line for people: ``valid, expires 2027-01-01 (5 days left), missing: ...``."""
    if not data.get("checked"):
        if data.get("error"):
            return f"could not be checked ({data['error']})"
        return "not checked yet (test_whatsapp --test-type token asks Meta)"
    parts = ["valid" if data["valid"] else f"NOT VALID ({data['error'] or 'refused by Meta'})"]
    if data["expires_at"] is None:
        parts.append("never expires")
    else:
        parts.append(
            f"expires {data['expires_at'][:16].replace('T', ' ')} UTC ({data['days_left']} days left)"
        )
    if data["missing_permissions"]:
        parts.append("missing permissions: " + ", ".join(data["missing_permissions"]))
    return ", ".join(parts) + f"; checked {data['checked_at'][:16].replace('T', ' ')}"


def _active_accounts() -> Any:
    return (
        BusinessAccount.objects.filter(is_active=True, archived_at__isnull=True)
        .exclude(access_token_encrypted="")
        .order_by("pk")
    )


def token_report(account: BusinessAccount | None = None, refresh: bool = False) -> dict[str, dict[str, Any]]:
    """``{phone_number_id: describe(...)}`` for ``account`` or every active one: the stored
    answers, or (``refresh``) Meta's answers now. A failed check is reported, not raised."""
    report = {}
    for item in [account] if account is not None else _active_accounts():
        if not refresh:
            report[item.phone_number_id] = describe(current_status(item))
            continue
        try:
            report[item.phone_number_id] = describe(refresh_token_status(item))
        except (WacloudError, SettingError) as error:
            report[item.phone_number_id] = {"checked": False, "error": f"{type(error).__name__}: {error}"}
    return report


@dataclass
class ExpiryRun:
    checked: int = 0
    warned: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "warned": self.warned, "failed": self.failed}


def _needs_warning(status: AccessTokenStatus, now: datetime, days: int) -> bool:
    if not status.is_valid:
        return True
    return status.expires_at is not None and status.expires_at <= now + timedelta(days=days)


def check_token_expiry(refresh: bool = True, now: datetime | None = None) -> dict[str, Any]:
    """Ask Meta about every active account's token (``refresh``) and warn (a WARNING log and
    the ``token_expiring`` signal) for each one invalid or expiring within
    ``WACLOUD["TOKEN_EXPIRY_WARNING_DAYS"]``, at most once a day (UTC) per account. An account
    Meta cannot be asked about keeps its last status and does not stop the others. ``now``
    is for tests and replays (default: the current time)."""
    from ..signals import token_expiring

    days = warning_days()
    run = ExpiryRun()
    for account in _active_accounts():
        try:
            status = refresh_token_status(account) if refresh else current_status(account)
        except Exception as error:  # one account's failure never blocks the others
            logger.exception("could not check the access token of account %s", account.phone_number_id)
            run.failed[account.phone_number_id] = f"{type(error).__name__}: {error}"
            status = current_status(account)
        if status is None:
            continue
        run.checked += 1
        moment = now or timezone.now()
        if not _needs_warning(status, moment, days):
            continue
        today = moment.astimezone(dt_timezone.utc).date()
        # A conditional update claims today's warning: concurrent runs warn once.
        claimed = (
            AccessTokenStatus.objects.filter(pk=status.pk).exclude(warned_on=today).update(warned_on=today)
        )
        if not claimed:
            continue
        left = days_left(status.expires_at, moment)
        if not status.is_valid:
            logger.warning(
                "access token of account %s is not valid: %s", account.phone_number_id, status.error
            )
        else:
            logger.warning(
                "access token of account %s expires %s (%s days left): rotate it with whatsapp_rotate_token",
                account.phone_number_id, status.expires_at.isoformat(), left,
            )  # fmt: skip
        run.warned.append(account.phone_number_id)
        token_expiring.send(
            sender=BusinessAccount, account=account, status=status, expires_at=status.expires_at,
            days_left=left, valid=status.is_valid,
        )  # fmt: skip
    return run.as_dict()
