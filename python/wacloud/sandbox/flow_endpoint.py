"""The sandbox as WhatsApp's side of a Flow's data-exchange endpoint: it encrypts a request
with the public key uploaded for the number (``POST /<PHONE_NUMBER_ID>/whatsapp_business_encryption``),
signs it with the app secret (``X-Hub-Signature-256``), POSTs it to the endpoint, and
decrypts the answer with the request's AES key and flipped vector, as the WhatsApp client
does. Each call made for a Flow is recorded for that Flow's endpoint metrics.

Meta's status rules for the endpoint's answers: 200 with the encrypted body; 421 when it
cannot decrypt (the client fetches the public key again); 432 when the signature is wrong;
427 when the flow token is no longer valid."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import aiohttp

from .flows import record_endpoint_call
from .graph_errors import GraphError, invalid_parameter

ACTIONS = ("ping", "INIT", "data_exchange", "BACK")
DEFAULT_VERSION = "3.0"


def request_payload(body: dict[str, Any]) -> dict[str, Any]:
    """The clear request WhatsApp would send, from the control body: ``action`` (``ping``,
    ``INIT``, ``data_exchange``, ``BACK``), ``screen``, ``data``, ``flow_token``, ``version``;
    or ``error`` and ``error_message`` for an error notification."""
    action = body.get("action", "ping")
    if action not in ACTIONS:
        raise invalid_parameter(f"action must be one of {', '.join(ACTIONS)}.")
    payload: dict[str, Any] = {"version": str(body.get("version", DEFAULT_VERSION)), "action": action}
    if action == "ping":
        return payload
    if not isinstance(body.get("flow_token"), str) or not body["flow_token"]:
        raise invalid_parameter("flow_token is required for every action but ping.")
    payload["flow_token"] = body["flow_token"]
    if body.get("screen") is not None:
        payload["screen"] = str(body["screen"])
    data = body.get("data")
    if body.get("error") is not None:
        # An error notification: the client reports what went wrong with the last answer.
        data = {
            **(data or {}),
            "error": str(body["error"]),
            "error_message": str(body.get("error_message", "")),
        }
    if data is not None:
        if not isinstance(data, dict):
            raise invalid_parameter("data must be a JSON object.")
        payload["data"] = data
    return payload


async def call_endpoint(core: Any, body: dict[str, Any]) -> dict[str, Any]:
    """Call a Flow endpoint as WhatsApp does. ``body``: ``url`` (else the ``endpoint_uri``
    of ``flow_id``), the request fields of :func:`request_payload`, ``sign`` (default true)
    and ``secret`` (default: the sandbox's app secret). Returns the HTTP ``status``, the
    decrypted ``response`` (``None`` when the answer is not one), the raw ``body`` text
    otherwise, and the clear ``request`` sent."""
    from wacloud import flow_crypto

    record = None
    if body.get("flow_id") is not None:
        record = core.state.flows.get(str(body["flow_id"]))
        if record is None:
            raise GraphError(100, f"No Flow {body['flow_id']!r} in the sandbox.", http_status=404)
    url = body.get("url") or (record or {}).get("endpoint_uri")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise invalid_parameter("url is required (or a flow_id whose Flow has an endpoint_uri).")
    pem = core.state.flow_public_key
    if not pem:
        raise invalid_parameter(
            "No public key was uploaded for the number: "
            "POST /<PHONE_NUMBER_ID>/whatsapp_business_encryption first."
        )
    payload = request_payload(body)
    encrypted, aes_key, iv = flow_crypto.encrypt_request(payload, flow_crypto.load_public_key(pem))
    raw = json.dumps(encrypted).encode()
    headers = {"Content-Type": "application/json"}
    if body.get("sign", True):
        secret = body.get("secret") or core.config.app_secret
        digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
        headers["X-Hub-Signature-256"] = f"sha256={digest}"
    started = time.monotonic()
    timeout = aiohttp.ClientTimeout(total=float(body.get("timeout", 10)))
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.post(url, data=raw, headers=headers) as response:
                status, text = response.status, await response.text()
    except (aiohttp.ClientError, TimeoutError) as error:
        if record is not None:
            record_endpoint_call(record, core.state.now(), 0, time.monotonic() - started, "timeout_error")
        return {"status": 0, "response": None, "body": str(error), "request": payload}
    answer = None
    if status == 200:
        try:
            answer = flow_crypto.decrypt_response(text, aes_key, iv)
        except ValueError:
            answer = None
    if record is not None:
        error = "" if answer is not None else ("invalid_response" if status == 200 else f"http_{status}")
        recorded_status = status if answer is not None or status != 200 else 500
        record_endpoint_call(record, core.state.now(), recorded_status, time.monotonic() - started, error)
        core.state.dirty = True
    return {
        "status": status,
        "response": answer,
        "body": None if answer is not None else text,
        "request": payload,
    }
