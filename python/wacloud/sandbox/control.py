"""The control API under ``/_sandbox``: play the user's side (inbound messages),
inspect what the business sent, steer templates, recipients, the clock and the
faults, and wait for webhook deliveries. Not part of Meta's API; never faulted,
no token needed (the sandbox listens on localhost by default)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .core import TEMPLATE_EVENTS, SandboxCore
from .graph_errors import GraphError, invalid, invalid_parameter
from .routes import CORE, json_response, read_params
from .routes_account import ENDPOINTS as NUMBER_ENDPOINTS
from .routes_users import ENDPOINTS as USER_ENDPOINTS

ENDPOINTS = {
    "GET /_sandbox": "this index",
    "GET /_sandbox/config": "the account the sandbox plays and its limits",
    "POST /_sandbox/inbound": (
        "inject a user message (opens the 24-hour window; a system notice does not), emits its webhook"
    ),
    "GET /_sandbox/inbound": "injected user messages",
    "GET /_sandbox/messages": "messages the business sent (?to=, ?type=, ?status=)",
    "GET /_sandbox/messages/{wamid}": "one sent message with its status history",
    "GET /_sandbox/conversations": "conversations opened by sends",
    "GET /_sandbox/webhooks": "webhook deliveries (?status=, ?kind= prefix) with attempts and bodies",
    "POST /_sandbox/webhooks/wait": "block until deliveries match {count, kind, status, timeout}",
    "GET /_sandbox/faults": "current faults",
    "POST /_sandbox/faults": "change faults (only the given knobs)",
    "DELETE /_sandbox/faults": "clear every fault",
    "GET /_sandbox/recipients": "numbers marked undeliverable",
    "POST /_sandbox/recipients/{wa_id}": '{"undeliverable": true|false}: sends to it fail with 131026',
    "POST /_sandbox/templates/{id-or-name}/status": (
        '{"event": "REJECTED", "reason": ..., "language": ..., "other_info": ..., "disable_info": ...}'
    ),
    "POST /_sandbox/clock": (
        '{"advance_seconds": N}: move the sandbox clock (windows, conversations, webhook retries)'
    ),
    "GET /_sandbox/tokens": "the access tokens the Graph routes accept (fingerprints, expiry, scopes)",
    "POST /_sandbox/tokens": (
        '{"token": ..., "expires_in": N, "scopes": [...], "waba_ids": [...], "type": ..., "valid": bool}: '
        "add a token or change one (debug_token answers from these)"
    ),
    **USER_ENDPOINTS,
    **NUMBER_ENDPOINTS,
    "GET /_sandbox/flows": "the WABA's Flows (status, Flow JSON, validation errors), the public key",
    "POST /_sandbox/flows/endpoint": (
        '{"url" or "flow_id", "action", "flow_token", "screen", "data"}: call a Flow endpoint as WhatsApp '
        "does (encrypted with the uploaded public key, signed); answers status and the decrypted response"
    ),
    "POST /_sandbox/flows/complete": '{"wamid", "response"}: the user completes a Flow message (nfm_reply)',
    "POST /_sandbox/save": "write the state file now",
    "POST /_sandbox/reset": "forget everything (hello_world stays)",
}


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_")}


def delivery_view(record: dict[str, Any]) -> dict[str, Any]:
    view = dict(record)
    view["payload"] = json.loads(record["body"])
    return view


def select_deliveries(
    core: SandboxCore, kind: str | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    return [
        record
        for record in core.state.deliveries.values()
        if (kind is None or record["kind"].startswith(kind))
        and (status is None or record["status"] == status)
    ]


def find_template_for_control(core: SandboxCore, key: str, language: str | None) -> dict[str, Any]:
    template = core.state.templates.get(key)
    if template is None:
        matches = [
            t for t in core.ordered_templates() if t["name"] == key and language in (None, t["language"])
        ]
        if not matches:
            raise GraphError(100, f"No template with id or name {key!r}.", http_status=404)
        template = matches[-1]
    return template


def set_template_status(core: SandboxCore, key: str, body: dict[str, Any]) -> dict[str, Any]:
    template = find_template_for_control(core, key, body.get("language"))
    event = str(body.get("event", "")).upper()
    if event not in TEMPLATE_EVENTS:
        raise invalid_parameter(f"event must be one of {', '.join(TEMPLATE_EVENTS)}.")
    reason = str(body.get("reason") or ("INVALID_FORMAT" if event == "REJECTED" else "NONE"))
    info = body.get("rejection_info")
    if info is not None and not isinstance(info, dict):
        raise invalid_parameter("rejection_info must be an object with reason and recommendation.")
    other_info = body.get("other_info")
    if other_info is not None and not (
        isinstance(other_info, dict)
        and all(isinstance(other_info.get(k), str) for k in ("title", "description"))
    ):
        raise invalid_parameter("other_info must be an object with title and description strings.")
    disable_info = body.get("disable_info")
    if disable_info is not None and not (
        isinstance(disable_info, dict) and isinstance(disable_info.get("disable_date"), str)
    ):
        raise invalid_parameter("disable_info must be an object with a disable_date string.")
    core.set_template_status(template, event, reason, info, other_info=other_info, disable_info=disable_info)
    return _public(template)


def set_recipient(core: SandboxCore, wa_id: str, body: dict[str, Any]) -> dict[str, Any]:
    if not wa_id.isdigit():
        raise invalid("wa_id must be digits only.")
    if not isinstance(body.get("undeliverable"), bool):
        raise invalid_parameter('Body must be {"undeliverable": true|false}.')
    if body["undeliverable"]:
        core.state.undeliverable.add(wa_id)
    else:
        core.state.undeliverable.discard(wa_id)
    core.state.dirty = True
    return {"wa_id": wa_id, "undeliverable": body["undeliverable"]}


def advance_clock(core: SandboxCore, body: dict[str, Any]) -> dict[str, Any]:
    seconds = body.get("advance_seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise invalid_parameter("advance_seconds must be a non-negative number.")
    core.state.clock_offset += seconds
    core.state.dirty = True
    core.emitter.clock_moved()  # webhook retries wait on the sandbox clock too
    return {"now": core.state.now(), "offset": core.state.clock_offset}


def set_faults(core: SandboxCore, body: dict[str, Any]) -> dict[str, Any]:
    try:
        core.config.faults.update(body)
    except ValueError as error:
        raise invalid_parameter(str(error)) from None
    return core.config.faults.as_dict()


def register_token(core: SandboxCore, body: dict[str, Any]) -> dict[str, Any]:
    options = dict(body)
    token = options.pop("token", None)
    return core.tokens.register(token, **options)  # type: ignore[arg-type]


def config_view(core: SandboxCore) -> dict[str, Any]:
    config = core.config
    return {
        "base_url": core.public_url,
        "phone_number_id": config.phone_number_id,
        "waba_id": config.waba_id,
        "display_phone_number": config.display_phone_number,
        "webhook_url": config.webhook_url,
        "messages_per_second": config.messages_per_second,
        "pair_rate_per_second": config.pair_rate_per_second,
        "pair_burst": config.pair_burst,
        "window_errors": config.window_errors,
        "state_file": config.state_file,
    }


async def wait_deliveries(core: SandboxCore, body: dict[str, Any]) -> list[dict[str, Any]]:
    count = body.get("count", 1)
    timeout = body.get("timeout", 5.0)
    kind, status = body.get("kind"), body.get("status", "delivered")
    if not isinstance(count, int) or count < 0 or not isinstance(timeout, (int, float)) or timeout < 0:
        raise invalid_parameter("count must be a non-negative integer and timeout a non-negative number.")

    def enough() -> bool:
        return len(select_deliveries(core, kind, status)) >= count

    if not await core.emitter.wait_for(enough, float(timeout)):
        found = len(select_deliveries(core, kind, status))
        raise GraphError(
            100,
            f"Timed out after {timeout}s: {found} of {count} deliveries (kind={kind}, status={status}).",
            http_status=408,
        )
    return select_deliveries(core, kind, status)


def _core(request: web.Request) -> SandboxCore:
    return request.app[CORE]


async def index(request: web.Request) -> web.Response:
    return json_response({"endpoints": ENDPOINTS})


async def get_config(request: web.Request) -> web.Response:
    return json_response(config_view(_core(request)))


async def post_inbound(request: web.Request) -> web.Response:
    return json_response({"message": _core(request).inject(await read_params(request))})


async def get_inbound(request: web.Request) -> web.Response:
    return json_response({"data": list(_core(request).state.inbound.values())})


async def get_messages(request: web.Request) -> web.Response:
    core, query = _core(request), request.query
    data = [
        m
        for m in core.state.messages.values()
        if query.get("to") in (None, m["wa_id"], m["to"])
        and query.get("type") in (None, m["type"])
        and query.get("status") in (None, m["status"])
    ]
    return json_response({"data": data})


async def get_message(request: web.Request) -> web.Response:
    wamid = request.match_info["wamid"]
    message = _core(request).state.messages.get(wamid)
    if message is None:
        raise GraphError(100, f"No sent message {wamid}.", http_status=404)
    return json_response(message)


async def get_conversations(request: web.Request) -> web.Response:
    core = _core(request)
    now = core.state.now()
    data = [{**c, "open": c["expiration"] > now} for c in core.state.conversations.values()]
    return json_response({"data": data})


async def get_webhooks(request: web.Request) -> web.Response:
    selected = select_deliveries(_core(request), request.query.get("kind"), request.query.get("status"))
    return json_response({"data": [delivery_view(r) for r in selected]})


async def post_wait(request: web.Request) -> web.Response:
    found = await wait_deliveries(_core(request), await read_params(request))
    return json_response({"data": [delivery_view(r) for r in found]})


async def get_faults(request: web.Request) -> web.Response:
    return json_response(_core(request).config.faults.as_dict())


async def post_faults(request: web.Request) -> web.Response:
    return json_response(set_faults(_core(request), await read_params(request)))


async def delete_faults(request: web.Request) -> web.Response:
    core = _core(request)
    defaults = type(core.config.faults)().as_dict()
    core.config.faults.update(defaults)
    return json_response(core.config.faults.as_dict())


async def get_recipients(request: web.Request) -> web.Response:
    return json_response({"undeliverable": sorted(_core(request).state.undeliverable)})


async def post_recipient(request: web.Request) -> web.Response:
    return json_response(
        set_recipient(_core(request), request.match_info["wa_id"], await read_params(request))
    )


async def post_template_status(request: web.Request) -> web.Response:
    body = await read_params(request)
    return json_response(set_template_status(_core(request), request.match_info["key"], body))


async def post_clock(request: web.Request) -> web.Response:
    return json_response(advance_clock(_core(request), await read_params(request)))


async def get_tokens(request: web.Request) -> web.Response:
    return json_response({"data": _core(request).tokens.views()})


async def post_tokens(request: web.Request) -> web.Response:
    return json_response(register_token(_core(request), await read_params(request)))


async def post_save(request: web.Request) -> web.Response:
    core = _core(request)
    if not core.config.state_file:
        raise invalid_parameter("The sandbox was started without a state file.")
    core.state.dirty = True
    core.save()
    return json_response({"saved": core.config.state_file})


async def post_reset(request: web.Request) -> web.Response:
    _core(request).reset()
    return json_response({"success": True})


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/_sandbox", index)
    router.add_get("/_sandbox/config", get_config)
    router.add_post("/_sandbox/inbound", post_inbound)
    router.add_get("/_sandbox/inbound", get_inbound)
    router.add_get("/_sandbox/messages", get_messages)
    router.add_get("/_sandbox/messages/{wamid}", get_message)
    router.add_get("/_sandbox/conversations", get_conversations)
    router.add_get("/_sandbox/webhooks", get_webhooks)
    router.add_post("/_sandbox/webhooks/wait", post_wait)
    router.add_get("/_sandbox/faults", get_faults)
    router.add_post("/_sandbox/faults", post_faults)
    router.add_delete("/_sandbox/faults", delete_faults)
    router.add_get("/_sandbox/recipients", get_recipients)
    router.add_post("/_sandbox/recipients/{wa_id}", post_recipient)
    router.add_post("/_sandbox/templates/{key}/status", post_template_status)
    router.add_post("/_sandbox/clock", post_clock)
    router.add_get("/_sandbox/tokens", get_tokens)
    router.add_post("/_sandbox/tokens", post_tokens)
    router.add_post("/_sandbox/save", post_save)
    router.add_post("/_sandbox/reset", post_reset)
