"""Who may send a webhook, and for which accounts (docs/webhooks.md, "Who may speak for whom").

A webhook is authenticated as exactly one *signer*: the app secret that verified
its ``X-Hub-Signature-256``. A signer speaks for the accounts whose app secret it
is (an account without its own secret uses ``WACLOUD["APP_SECRET"]``), and only
the global secret speaks for numbers and WABAs nobody configured. Every change in
a body must name accounts its signer speaks for; a body naming any other account
is refused whole (403, nothing stored), never re-attributed. Processing checks
each item again against the event's signer, so a stored body can never move data
into an account whose secret did not sign it.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from wacloud.security import verify_signature

from ..conf import get_setting
from ..exceptions import WebhookValidationFailure
from ..models import BusinessAccount
from .rows import rows_matching_any

SIGNATURE_HEADER = "X-Hub-Signature-256"


@dataclass(frozen=True)
class RoutedChange:
    """The ids one ``entry[].changes[]`` of a body names: the entry's WABA id and the
    change's ``metadata.phone_number_id`` (``None`` for changes about the WABA itself)."""

    waba_id: str
    phone_number_id: str | None


def routing_of(payload: dict[str, Any] | None) -> list[RoutedChange]:
    """The accounts a decoded body names, change by change (nothing for a body that is not one)."""
    entries = payload.get("entry") if isinstance(payload, dict) else None
    routed: dict[RoutedChange, None] = {}
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        waba_id = "" if entry.get("id") in (None, "") else str(entry["id"])
        changes = entry.get("changes")
        for change in changes if isinstance(changes, list) else []:
            value = change.get("value") if isinstance(change, dict) else None
            metadata = value.get("metadata") if isinstance(value, dict) else None
            phone_id = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
            routed[RoutedChange(waba_id, None if phone_id in (None, "") else str(phone_id))] = None
    return list(routed)


def global_secret() -> str:
    return get_setting("APP_SECRET") or ""


def effective_secret(account: BusinessAccount) -> str:
    """The secret that signs ``account``'s webhooks: its own, else ``WACLOUD["APP_SECRET"]``."""
    return account.app_secret or global_secret()


def _same(a: str, b: str) -> bool:
    return bool(a) and hmac.compare_digest(a.encode(), b.encode())


@dataclass
class Signer:
    """The secret that verified a body, and the account it was found through
    (``None`` when only ``WACLOUD["APP_SECRET"]`` matched and no account was named)."""

    secret: str
    account: BusinessAccount | None
    _accounts: dict[tuple[str, str], list[BusinessAccount]] = field(default_factory=dict, repr=False)

    @classmethod
    def of_event(cls, account: BusinessAccount | None) -> Signer:
        """The signer of a stored event: its account's secret, else the global one."""
        if account is None:
            return cls(global_secret(), None)
        # phone_number_id is unique: the event's own number needs no lookup.
        known = {("phone_number_id", account.phone_number_id): [account]}
        return cls(effective_secret(account), account, known)

    @property
    def is_global(self) -> bool:
        return _same(self.secret, global_secret())

    def speaks_for(self, account: BusinessAccount) -> bool:
        return _same(self.secret, effective_secret(account))

    def _lookup(self, kind: str, value: str) -> list[BusinessAccount]:
        key = (kind, value)
        if key not in self._accounts:
            self._accounts[key] = list(BusinessAccount.objects.filter(**{kind: value}).order_by("pk"))
        return self._accounts[key]

    def refusal(self, phone_number_id: str | None, waba_id: str | None) -> str:
        """Why this signer may not speak for a change naming this number and WABA (``""``: it may).

        A change about a number is judged by the number's account: the signer must speak for
        it, and the WABA must be the account's (any WABA while the account has none stored).
        A change about a WABA alone is judged by the WABA's accounts."""
        if phone_number_id:
            named = self._lookup("phone_number_id", phone_number_id)
            if not named:
                if not self.is_global:
                    return (
                        f"phone number id {phone_number_id} is not a configured account, and only "
                        'WACLOUD["APP_SECRET"] may sign for unconfigured numbers'
                    )
                return self._waba_refusal(waba_id) if waba_id else ""
            account = named[0]
            if not self.speaks_for(account):
                return (
                    f"phone number id {phone_number_id} belongs to an account this signature cannot speak for"
                )
            if waba_id and account.waba_id and account.waba_id != waba_id:
                return (
                    f"phone number id {phone_number_id} is stored under WABA {account.waba_id}, not {waba_id}"
                )
            return ""
        return self._waba_refusal(waba_id) if waba_id else ""

    def _waba_refusal(self, waba_id: str) -> str:
        named = self._lookup("waba_id", waba_id)
        if named:
            if any(self.speaks_for(account) for account in named):
                return ""
            return f"WABA {waba_id} belongs to accounts this signature cannot speak for"
        if self.is_global or (self.account is not None and not self.account.waba_id):
            return ""  # an account saved without its WABA id still receives its WABA's changes
        return (
            f"WABA {waba_id} is not configured on any account, and only "
            'WACLOUD["APP_SECRET"] may sign for unconfigured WABAs'
        )

    def check_changes(self, changes: Iterable[RoutedChange]) -> None:
        """Raise :class:`WebhookValidationFailure` unless this signer speaks for every id named."""
        for change in changes:
            reason = self.refusal(change.phone_number_id, change.waba_id)
            if reason:
                raise WebhookValidationFailure(f"signed body names another account: {reason}")


def _named_accounts(changes: list[RoutedChange]) -> dict[tuple[str, str], list[BusinessAccount]]:
    """Every account the changes name, fetched in one query and keyed as
    :meth:`Signer._lookup` keys them (so checking the changes queries nothing more)."""
    phone_ids = {change.phone_number_id for change in changes if change.phone_number_id}
    waba_ids = {change.waba_id for change in changes if change.waba_id}
    found = rows_matching_any(BusinessAccount, phone_number_id=phone_ids, waba_id=waba_ids)
    named: dict[tuple[str, str], list[BusinessAccount]] = {}
    for kind, values in (("phone_number_id", phone_ids), ("waba_id", waba_ids)):
        for value in values:
            named[(kind, value)] = [account for account in found if getattr(account, kind) == value]
    return named


def _candidates(
    url_accounts: list[BusinessAccount] | None,
    changes: list[RoutedChange],
    named: dict[tuple[str, str], list[BusinessAccount]],
) -> list[tuple[str, BusinessAccount | None]]:
    """(secret, account) pairs worth trying, each secret once, most specific first."""
    if url_accounts is not None:
        accounts = url_accounts
    else:
        phone_ids = {change.phone_number_id for change in changes if change.phone_number_id}
        waba_ids = {change.waba_id for change in changes if change.waba_id}
        by_pk = {account.pk: account for found in named.values() for account in found}
        # The numbers' accounts first, then the WABAs' others, each group by pk.
        accounts = sorted(by_pk.values(), key=lambda one: (one.phone_number_id not in phone_ids, one.pk))
        if not phone_ids and not waba_ids:
            # A body that names nobody (or cannot be decoded) may still be signed by some
            # account: it is then stored as failed and answered 400, not refused as forged.
            accounts = list(BusinessAccount.objects.exclude(app_secret_encrypted="").order_by("pk"))
    pairs: dict[str, BusinessAccount | None] = {}
    for account in accounts:
        secret = effective_secret(account)
        if secret and secret not in pairs:
            pairs[secret] = account
    if url_accounts is None and global_secret() and global_secret() not in pairs:
        pairs[global_secret()] = None
    return list(pairs.items())


def authenticate(
    body: bytes,
    header: str | None,
    *,
    url_accounts: list[BusinessAccount] | None,
    changes: list[RoutedChange],
) -> Signer:
    """The signer of ``body``, checked to speak for every account ``changes`` name.
    ``url_accounts``: the accounts of a per-account URL (only their secrets count).
    Raises :class:`WebhookValidationFailure`."""
    named = _named_accounts(changes) if url_accounts is None else {}
    candidates = _candidates(url_accounts, changes, named)
    if not candidates:
        where = "this URL's account" if url_accounts else "the accounts this body names"
        raise WebhookValidationFailure(f'no app secret for {where} and WACLOUD["APP_SECRET"] is not set')
    if not header:
        raise WebhookValidationFailure(f"missing {SIGNATURE_HEADER} header")
    for secret, account in candidates:
        if verify_signature(secret, body, header):
            signer = Signer(secret, account, dict(named))
            signer.check_changes(changes)
            if signer.account is None:
                signer.account = _first_named_account(signer, changes)
            return signer
    raise WebhookValidationFailure(f"{SIGNATURE_HEADER} does not match the body")


def _first_named_account(signer: Signer, changes: list[RoutedChange]) -> BusinessAccount | None:
    """The account the event is filed under when the global secret signed it."""
    for change in changes:
        if change.phone_number_id:
            named = signer._lookup("phone_number_id", change.phone_number_id)
            if named:
                return named[0]
    return None
