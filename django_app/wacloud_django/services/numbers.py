"""Onboarding and number management of an account at Meta: registration with Cloud API, the
verification code, the two-step verification PIN, the app's webhook subscription, the WABA's
numbers and QR codes. Each call goes to Meta through the account's client; what Meta did is
audited (a PIN or code never is). Meta's refusals surface as :class:`wacloud.GraphAPIError`.

The API (``integrations/<id>/...``) and the admin call these, and
:func:`integrations.create_integration` subscribes the app when
``WACLOUD["SUBSCRIBE_ON_SETUP"]`` is on."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from ..log_privacy import get_logger
from ..models import BusinessAccount
from . import audit
from .clients import client_for

logger = get_logger("wacloud.numbers")
_HIDDEN = "***"


def _record(account: BusinessAccount, action: str, changes: dict[str, Any] | None = None) -> None:
    with transaction.atomic():
        audit.record(action, organization=account.organization, target=account, changes=changes or {})


# -- registration and verification ------------------------------------------------------------
def register(account: BusinessAccount, pin: str, data_localization_region: str | None = None) -> None:
    """Register the number with Cloud API; ``pin`` becomes its two-step PIN if none is set."""
    client_for(account).register_phone_number(pin, data_localization_region=data_localization_region)
    _record(
        account, "number.register", {"pin": _HIDDEN, "data_localization_region": data_localization_region}
    )


def deregister(account: BusinessAccount) -> None:
    client_for(account).deregister_phone_number()
    _record(account, "number.deregister")


def request_code(account: BusinessAccount, code_method: str = "SMS", language: str = "en_US") -> None:
    client_for(account).request_verification_code(code_method, language)
    _record(account, "number.request_code", {"code_method": code_method, "language": language})


def verify_code(account: BusinessAccount, code: str) -> None:
    client_for(account).verify_code(code)
    _record(account, "number.verify_code")


def set_pin(account: BusinessAccount, pin: str) -> None:
    client_for(account).set_two_step_pin(pin)
    _record(account, "number.set_pin", {"pin": _HIDDEN})


def phone_numbers(account: BusinessAccount) -> list[dict[str, Any]]:
    """The WhatsApp Business Account's numbers as Meta lists them."""
    return [number.raw for number in client_for(account).list_phone_numbers()]


# -- webhook subscription ---------------------------------------------------------------------------
def subscribe(
    account: BusinessAccount, override_callback_uri: str | None = None, verify_token: str | None = None
) -> None:
    """Subscribe the app to the account's webhooks; with ``override_callback_uri`` this
    account's events go there (Meta first checks it with ``verify_token``)."""
    client_for(account).subscribe_app(override_callback_uri=override_callback_uri, verify_token=verify_token)
    _record(account, "number.subscribe", {"override_callback_uri": override_callback_uri or ""})


def unsubscribe(account: BusinessAccount) -> None:
    client_for(account).unsubscribe_app()
    _record(account, "number.unsubscribe")


def subscriptions(account: BusinessAccount) -> list[dict[str, Any]]:
    return [
        {"id": app.id, "name": app.name, "link": app.link, "override_callback_uri": app.override_callback_uri}
        for app in client_for(account).list_subscribed_apps()
    ]


def subscribe_on_setup(account: BusinessAccount, webhook_url: str = "") -> None:
    """After an integration is created: subscribe the app to its account (the account's own
    verify token checks ``webhook_url`` when one is given). A failure is logged, not raised:
    the integration stays, and the subscription can be made again from the API."""
    try:
        if webhook_url:
            subscribe(account, override_callback_uri=webhook_url, verify_token=account.verify_token)
        else:
            subscribe(account)
    except Exception as error:  # Meta unreachable or refusing: the admin retries from the API
        logger.warning("could not subscribe the app to account %s: %s", account.phone_number_id, error)


# -- QR codes ------------------------------------------------------------------------------------------------
def _qr(code: Any) -> dict[str, Any]:
    return {
        "code": code.code,
        "prefilled_message": code.prefilled_message,
        "deep_link_url": code.deep_link_url,
        "qr_image_url": code.qr_image_url,
    }


def qr_codes(account: BusinessAccount, image_format: str | None = None) -> list[dict[str, Any]]:
    return [_qr(code) for code in client_for(account).list_qr_codes(image_format=image_format)]


def qr_code(account: BusinessAccount, code: str, image_format: str | None = None) -> dict[str, Any]:
    return _qr(client_for(account).get_qr_code(code, image_format=image_format))


def create_qr_code(
    account: BusinessAccount, prefilled_message: str, image_format: str | None = None
) -> dict[str, Any]:
    created = _qr(client_for(account).create_qr_code(prefilled_message, image_format=image_format))
    _record(account, "qr_code.create", {"code": created["code"], "prefilled_message": prefilled_message})
    return created


def update_qr_code(account: BusinessAccount, code: str, prefilled_message: str) -> dict[str, Any]:
    updated = _qr(client_for(account).update_qr_code(code, prefilled_message))
    _record(account, "qr_code.update", {"code": code, "prefilled_message": prefilled_message})
    return updated


def delete_qr_code(account: BusinessAccount, code: str) -> None:
    client_for(account).delete_qr_code(code)
    _record(account, "qr_code.delete", {"code": code})
