"""WhatsApp Flows on the host: the data-exchange endpoint Meta calls, the endpoint's RSA key
pair, and the announcement of completed Flows (docs/flows.md).

The endpoint (``views/flows.py`` is its door) answers in Meta's terms:

1. ``X-Hub-Signature-256`` must verify with the app secret of the URL's account
   (``flows/endpoint/<phone number id>/``), else with ``WACLOUD["APP_SECRET"]`` or any
   account's secret (``flows/endpoint/``): 432 otherwise;
2. the body must decrypt with ``WACLOUD["FLOWS_PRIVATE_KEY"]``: 421 otherwise, after which
   WhatsApp fetches the public key again;
3. ``ping`` answers ``{"data": {"status": "active"}}``; an error notification (``data.error``)
   is logged and acknowledged; ``INIT``, ``data_exchange`` and ``BACK`` go to the callable
   named by ``WACLOUD["FLOWS_HANDLER"]``, whose dict is the answer. A handler that raises
   :class:`FlowTokenInvalid` gets 427 (WhatsApp tells the user the Flow has ended);
4. the answer is encrypted with the request's key and flipped vector.

``flow_request_received`` is sent for every answered request."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.utils.module_loading import import_string

from wacloud import flow_crypto
from wacloud.errors import FlowDecryptionError
from wacloud.security import verify_signature

from .. import signals
from ..conf import get_setting, setting_name
from ..exceptions import DecryptionError, SettingError
from ..log_privacy import get_logger
from ..models import BusinessAccount, Contact, Message
from .statuses import send_signal, send_signal_on_commit
from .webhook_auth import effective_secret, global_secret

logger = get_logger("wacloud.flows")

#: Meta's statuses for answers the endpoint could not give.
DECRYPTION_FAILED = 421
FLOW_TOKEN_INVALID = 427
SIGNATURE_INVALID = 432
ACTIONS = ("ping", "INIT", "data_exchange", "BACK")


class FlowTokenInvalid(Exception):
    """Raised by a ``FLOWS_HANDLER`` for a flow token it no longer honours (expired, used):
    the endpoint answers 427 and WhatsApp shows the user that the Flow has ended."""


@dataclass(frozen=True)
class FlowRequest:
    """A decrypted data-exchange request: ``action`` (``INIT``, ``data_exchange``, ``BACK``,
    ``ping``), the ``screen`` it comes from, the ``data`` the user entered, the
    ``flow_token`` the Flow was sent with, Meta's ``version``; ``error``/``error_message``
    for an error notification. ``account`` is the URL's account (``None`` on the shared
    URL); ``payload`` the whole decrypted JSON."""

    action: str
    screen: str | None
    data: dict[str, Any]
    flow_token: str | None
    version: str
    account: BusinessAccount | None = None
    payload: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def error(self) -> str | None:
        value = self.data.get("error")
        return value if isinstance(value, str) else None

    @property
    def error_message(self) -> str | None:
        value = self.data.get("error_message")
        return value if isinstance(value, str) else None

    @classmethod
    def from_payload(cls, payload: dict[str, Any], account: BusinessAccount | None) -> FlowRequest:
        data = payload.get("data")
        screen, token = payload.get("screen"), payload.get("flow_token")
        return cls(
            action=str(payload.get("action", "")),
            screen=screen if isinstance(screen, str) and screen else None,
            data=data if isinstance(data, dict) else {},
            flow_token=token if isinstance(token, str) and token else None,
            version=str(payload.get("version", "")),
            account=account,
            payload=payload,
        )


@dataclass(frozen=True)
class EndpointAnswer:
    """What the view sends: the HTTP status and the (encrypted, base64) text body."""

    status: int
    body: str


# -- keys ----------------------------------------------------------------------------------------
def private_key() -> Any:
    """The endpoint's RSA private key from ``WACLOUD["FLOWS_PRIVATE_KEY"]`` (PEM text, or
    the path of a PEM file) and ``FLOWS_PRIVATE_KEY_PASSWORD``. Raises :class:`SettingError`
    naming the setting when it is missing or unusable."""
    configured = get_setting("FLOWS_PRIVATE_KEY")
    name = setting_name("FLOWS_PRIVATE_KEY")
    if not configured or not isinstance(configured, (str, bytes)):
        raise SettingError(
            "FLOWS_PRIVATE_KEY", f"{name} is not set: the Flows endpoint needs its private key"
        )
    text = configured.decode() if isinstance(configured, bytes) else configured
    if "-----BEGIN" not in text:
        try:
            text = Path(text).read_text()
        except OSError as error:
            raise SettingError(
                "FLOWS_PRIVATE_KEY", f"{name} is neither PEM text nor a readable file: {error}"
            ) from None
    return _load_key(text, get_setting("FLOWS_PRIVATE_KEY_PASSWORD") or None)


@functools.lru_cache(maxsize=4)
def _load_key(pem: str, password: str | None) -> Any:
    # Keyed by the values, so a changed setting loads the new key at once.
    try:
        return flow_crypto.load_private_key(pem, password)
    except ValueError as error:
        raise SettingError(
            "FLOWS_PRIVATE_KEY",
            f"{setting_name('FLOWS_PRIVATE_KEY')} is not a usable RSA key "
            f"(or {setting_name('FLOWS_PRIVATE_KEY_PASSWORD')} is wrong): {error}",
        ) from None


def generate_key_pair(password: str | None = None) -> tuple[str, str]:
    """A new 2048-bit RSA pair for the endpoint: (private PEM, encrypted with ``password``
    when given; public PEM to upload)."""
    key = flow_crypto.generate_private_key()
    return flow_crypto.private_key_pem(key, password), flow_crypto.public_key_pem(key)


def save_private_key(path: str | Path, pem: str, overwrite: bool = False) -> Path:
    """Write a private key PEM readable by its owner only (0600); an existing file is kept
    unless ``overwrite``, so a key in use is never lost by a second run."""
    target = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        descriptor = os.open(target, flags, 0o600)
    except FileExistsError:
        raise FileExistsError(f"{target} exists; keep it, or overwrite it knowingly") from None
    with os.fdopen(descriptor, "w") as file:
        file.write(pem)
    os.chmod(target, 0o600)
    return target


def public_key_pem() -> str:
    """The public half of the configured private key, as Meta takes it."""
    return flow_crypto.public_key_pem(private_key())


def upload_public_key(account: BusinessAccount) -> dict[str, Any]:
    """Upload the configured key's public half for ``account``'s number (Meta signs it) and
    return what Meta now holds (``business_public_key_signature_status``)."""
    from .clients import client_for

    client = client_for(account)
    client.flows.upload_public_key(public_key_pem())
    return client.flows.public_key()


def remote_public_key(account: BusinessAccount) -> dict[str, Any]:
    """The key Meta holds for ``account``'s number, and whether it is the configured one
    (``matches_configured``; ``None`` when no private key is configured)."""
    from .clients import client_for

    held = client_for(account).flows.public_key()
    try:
        configured: str | None = public_key_pem()
    except SettingError:
        configured = None
    pem = held.get("business_public_key")
    matches = None if configured is None else bool(pem) and pem.strip() == configured.strip()
    return {**held, "matches_configured": matches}


# -- the endpoint --------------------------------------------------------------------------------------
def handle_endpoint_request(
    body: bytes, signature: str | None, account: BusinessAccount | None
) -> EndpointAnswer:
    """Verify, decrypt, answer and encrypt one request of Meta's (see the module text)."""
    if not _signed(body, signature, account):
        logger.warning("flows endpoint: invalid or missing X-Hub-Signature-256")
        return EndpointAnswer(SIGNATURE_INVALID, "")
    try:
        key = private_key()
    except SettingError as error:  # our configuration, not the request: WhatsApp retries
        logger.error("flows endpoint cannot answer: %s", error)
        return EndpointAnswer(500, "")
    try:
        decrypted = flow_crypto.decrypt_request(body, key)
    except FlowDecryptionError as error:
        logger.warning("flows endpoint: request does not decrypt (%s); answering 421", error)
        return EndpointAnswer(DECRYPTION_FAILED, "")
    request = FlowRequest.from_payload(decrypted.payload, account)
    try:
        response = _respond(request)
    except FlowTokenInvalid as error:
        logger.info("flows endpoint: flow token refused by the handler: %s", error)
        return EndpointAnswer(FLOW_TOKEN_INVALID, "")
    except Exception:
        # WhatsApp shows the user an error and counts it in the Flow's endpoint metrics.
        logger.exception("flows endpoint: the %s request (screen %s) failed", request.action, request.screen)
        return EndpointAnswer(500, "")
    send_signal(signals.flow_request_received, sender=FlowRequest, request=request, response=response,
                account=account)  # fmt: skip
    return EndpointAnswer(200, decrypted.encrypt_response(response))


def _respond(request: FlowRequest) -> dict[str, Any]:
    if request.action == "ping":
        return {"data": {"status": "active"}}
    if request.error is not None:
        logger.warning("flows endpoint: WhatsApp reports %s for flow token %s: %s", request.error,
                       request.flow_token, request.error_message or "")  # fmt: skip
        return {"data": {"acknowledged": True}}
    if request.action not in ACTIONS:
        logger.warning("flows endpoint: unknown action %r passed to the handler", request.action)
    response = handler()(request)
    if not isinstance(response, Mapping):
        raise TypeError(
            f"{setting_name('FLOWS_HANDLER')} must return a dict (the screen and its data), "
            f"not {type(response).__name__}"
        )
    return dict(response)


def setting_problems() -> list[str]:
    """What is wrong with the ``FLOWS_*`` settings (the system check reports each)."""
    problems = []
    configured_key = get_setting("FLOWS_PRIVATE_KEY")
    if configured_key:
        try:
            private_key()
        except SettingError as error:
            problems.append(str(error))
    if get_setting("FLOWS_HANDLER"):
        try:
            if not callable(handler()):
                problems.append(f"{setting_name('FLOWS_HANDLER')} does not name a callable")
        except SettingError as error:
            problems.append(str(error))
        if not configured_key:
            problems.append(
                f"{setting_name('FLOWS_HANDLER')} is set but {setting_name('FLOWS_PRIVATE_KEY')} is not: "
                "the endpoint cannot decrypt a request"
            )
    return problems


def handler() -> Callable[[FlowRequest], Mapping[str, Any]]:
    """The callable named by ``WACLOUD["FLOWS_HANDLER"]``."""
    path = get_setting("FLOWS_HANDLER")
    name = setting_name("FLOWS_HANDLER")
    if not path:
        raise SettingError("FLOWS_HANDLER", f"{name} is not set: nothing answers the Flows' data exchange")
    if callable(path):
        return path
    try:
        return _import(path)
    except ImportError as error:
        raise SettingError("FLOWS_HANDLER", f"{name} = {path!r} cannot be imported: {error}") from None


@functools.lru_cache(maxsize=8)
def _import(path: str) -> Callable[[FlowRequest], Mapping[str, Any]]:
    return import_string(path)


def _signed(body: bytes, signature: str | None, account: BusinessAccount | None) -> bool:
    """Whether ``signature`` is the body's HMAC with a secret that may speak here: the URL's
    account's, else the global one or any account's (the body names no account in clear)."""
    if not signature:
        return False
    accounts = [account] if account is not None else BusinessAccount.objects.exclude(app_secret_encrypted="")
    secrets = [] if account is not None else [global_secret()]
    for candidate in accounts:
        try:
            secrets.append(effective_secret(candidate))
        except DecryptionError as error:  # a wrong key must not lock out the other accounts
            logger.error("app secret of account %s cannot be decrypted: %s", candidate.pk, error)
    return any(verify_signature(secret, body, signature) for secret in dict.fromkeys(s for s in secrets if s))


# -- completed Flows -------------------------------------------------------------------------------------
def flow_response(message: Message) -> dict[str, Any] | None:
    """The ``response_json`` of a stored ``nfm_reply`` as a dict (``None`` for other messages)."""
    interactive = (message.content or {}).get("interactive") or {}
    if interactive.get("type") != "nfm_reply":
        return None
    try:
        parsed = json.loads(interactive.get("response_json") or "")
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def announce_completion(
    message: Message, event: Any, account: BusinessAccount, contact: Contact | None
) -> None:
    """``flow_completed`` after the commit, for an inbound message that completes a Flow."""
    interactive = getattr(event, "interactive", None)
    if interactive is None or interactive.type != "nfm_reply":
        return
    response = interactive.flow_response
    if response is None:
        logger.warning("flow completion %s has no JSON object in response_json", message.wamid)
        response = {}
    token = response.get("flow_token")
    send_signal_on_commit(
        signals.flow_completed, sender=Message, message=message, response=response,
        flow_token=token if isinstance(token, str) else None, event=event, account=account, contact=contact,
    )  # fmt: skip
