"""The Flows API routes (Meta's ``Flows`` operations) and the endpoint encryption key of the
number, plus the control routes that play WhatsApp's side of a Flow endpoint.

``/<FLOW_ID>`` shares its path with every other Graph node (phone number, WABA, media,
template): these routes serve the Flows' ids and hand every other id on to the next node
route (:mod:`.node_routes`)."""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from . import conformance, spec
from .conformance import (
    CREATE_FLOW,
    DELETE_FLOW,
    DEPRECATE_FLOW,
    GET_ENCRYPTION_KEY,
    GET_FLOW,
    LIST_FLOW_ASSETS,
    LIST_FLOWS,
    PUBLISH_FLOW,
    SET_ENCRYPTION_KEY,
    UPDATE_FLOW_JSON,
    UPDATE_FLOW_METADATA,
)
from .flow_endpoint import call_endpoint
from .flows import (
    DEFAULT_FIELDS,
    FLOW_FIELDS,
    GRANULARITIES,
    METRICS,
    FlowBook,
    completion,
    metric,
)
from .graph_errors import GraphError, invalid_parameter, nonexisting_field, unknown_object
from .node_routes import next_route
from .routes import CORE, VERSION, json_response, read_params

NODE_TYPE = "WhatsAppFlow"
_MODIFIER = re.compile(r"\.([a-z_]+)\(([^()]*)\)")


def _book(request: web.Request) -> FlowBook:
    return FlowBook(request.app[CORE].state)


def _base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


async def _params(request: web.Request) -> dict[str, Any]:
    """Form fields (multipart, as Meta's spec gives these operations) or JSON (Graph takes
    both); a file part stays an aiohttp ``FileField``."""
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        return {key: value if isinstance(value, web.FileField) else str(value) for key, value in form.items()}
    return await read_params(request)


def _check(request: web.Request, operation_id: str, params: dict[str, Any] | None = None) -> None:
    """The spec's query rules, and its multipart body schema applied to the parameters as
    form text (a list is its JSON, a file its name)."""
    config = request.app[CORE].config
    conformance.check_request(config, operation_id, request.query)
    if params is None or not conformance.enabled(config):
        return
    as_form = {key: _form_text(value) for key, value in params.items()}
    problems = spec.operation(operation_id).check_body(as_form, "multipart/form-data")
    if problems:
        raise conformance.refusal(problems[0])


def _form_text(value: Any) -> str:
    if isinstance(value, web.FileField):
        return value.filename or "file"
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _require(request: web.Request, expected: str) -> None:
    node = request.match_info["node"]
    if node != expected:
        raise unknown_object(node, request.method)


def _flow(request: web.Request) -> dict[str, Any]:
    record = _book(request).get(request.match_info["node"])
    if record is None:
        raise unknown_object(request.match_info["node"], request.method)
    return record


# -- the WABA's Flows -------------------------------------------------------------------------------
async def list_flows(request: web.Request) -> web.Response:
    core = request.app[CORE]
    _require(request, core.config.waba_id)
    _check(request, LIST_FLOWS)
    try:
        limit = int(request.query.get("limit", "25"))
    except ValueError:
        raise invalid_parameter("Param limit must be an integer.") from None
    if not 1 <= limit <= 1000:
        raise invalid_parameter("Param limit must be between 1 and 1000.")
    flows = _book(request).ordered()
    after = _order_of(request.query["after"]) if "after" in request.query else -1
    page = [f for f in flows if f["_order"] > after][:limit]
    answer: dict[str, Any] = {"data": [_book(request).list_item(f) for f in page]}
    if page:
        cursors = {"before": _cursor(page[0]["_order"]), "after": _cursor(page[-1]["_order"])}
        answer["paging"] = {"cursors": cursors}
        if flows[-1]["_order"] > page[-1]["_order"]:
            query = {**request.query, "after": cursors["after"]}
            answer["paging"]["next"] = f"{_base_url(request)}{request.path}?{urlencode(query)}"
    return json_response(answer)


async def create_flow(request: web.Request) -> web.Response:
    core = request.app[CORE]
    _require(request, core.config.waba_id)
    params = await _params(request)
    if isinstance(params.get("flow_json"), web.FileField):
        params["flow_json"] = params["flow_json"].file.read().decode("utf-8", "replace")
    _check(request, CREATE_FLOW, params)
    return json_response(_book(request).create(params))


# -- one Flow -----------------------------------------------------------------------------------------
def _wanted_fields(query: str) -> list[tuple[str, dict[str, str]]]:
    """``id,metric.name(X).granularity(DAY),preview.invalidate(false)`` as (field, modifiers)."""
    wanted, depth, current = [], 0, ""
    for char in query + ",":
        if char == "," and depth == 0:
            if current.strip():
                name, _, rest = current.strip().partition(".")
                wanted.append((name, dict(_MODIFIER.findall("." + rest)) if rest else {}))
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current += char
    return wanted


async def get_flow(request: web.Request) -> web.StreamResponse:
    core = request.app[CORE]
    record = _book(request).get(request.match_info["node"])
    if record is None:
        return await next_route(request)
    _check(request, GET_FLOW)
    wanted = _wanted_fields(request.query.get("fields", "")) or [(f, {}) for f in DEFAULT_FIELDS]
    answer: dict[str, Any] = {}
    for name, modifiers in wanted:
        if name not in FLOW_FIELDS:
            raise nonexisting_field(name, NODE_TYPE)
        answer[name] = _field(request, core, record, name, modifiers)
    answer["id"] = record["id"]
    return json_response({k: v for k, v in answer.items() if v is not None})


def _field(
    request: web.Request, core: Any, record: dict[str, Any], name: str, modifiers: dict[str, str]
) -> Any:
    if name == "preview":
        invalidate = modifiers.get("invalidate", "false").lower() == "true"
        return _book(request).preview(record, _base_url(request), invalidate)
    if name == "metric":
        return _metric(core, record, modifiers)
    if name == "data_channel_uri":
        return record["endpoint_uri"]
    if name == "health_status":
        can_send = "BLOCKED" if record["status"] in ("DEPRECATED", "BLOCKED") else "AVAILABLE"
        entity = {"entity_type": "FLOW", "id": record["id"], "can_send_message": can_send}
        return {"can_send_message": can_send, "entities": [entity]}
    if name == "whatsapp_business_account":
        config = core.config
        return {
            "id": config.waba_id,
            "name": config.verified_name,
            "message_template_namespace": "sandbox_" + config.waba_id,
        }
    if name == "application":
        app_id = record["application_id"] or "sandbox-app"
        return {"id": app_id, "name": "wacloud sandbox", "link": f"{_base_url(request)}/_sandbox"}
    return record.get(name)


def _metric(core: Any, record: dict[str, Any], modifiers: dict[str, str]) -> dict[str, Any]:
    name = modifiers.get("name")
    granularity = modifiers.get("granularity", "DAY")
    if name not in METRICS:
        raise invalid_parameter(f"Param metric.name must be one of {{{', '.join(METRICS)}}}.")
    if granularity not in GRANULARITIES:
        raise invalid_parameter(f"Param metric.granularity must be one of {{{', '.join(GRANULARITIES)}}}.")
    since, until = (_date(modifiers.get(key), key) for key in ("since", "until"))
    if until is not None:
        until += 86400  # Meta's until names the last day counted
    return metric(record, name, granularity, since, until)


def _date(text: str | None, key: str) -> float | None:
    if text is None:
        return None
    import calendar
    import time

    try:
        return float(calendar.timegm(time.strptime(text, "%Y-%m-%d")))
    except ValueError:
        raise invalid_parameter(f"Param metric.{key} must be a date written YYYY-MM-DD.") from None


async def update_flow_metadata(request: web.Request) -> web.StreamResponse:
    if _book(request).get(request.match_info["node"]) is None:
        return await next_route(request)
    params = await _params(request)
    _check(request, UPDATE_FLOW_METADATA, params)
    _book(request).update_metadata(_flow(request), params)
    return json_response({"success": True})


async def delete_flow(request: web.Request) -> web.StreamResponse:
    if _book(request).get(request.match_info["node"]) is None:
        return await next_route(request)
    _check(request, DELETE_FLOW)
    _book(request).delete(_flow(request))
    return json_response({"success": True})


async def list_assets(request: web.Request) -> web.Response:
    record = _flow(request)
    _check(request, LIST_FLOW_ASSETS)
    data = []
    if record["flow_json"] is not None:
        url = f"{_base_url(request)}/_sandbox/flows/{record['id']}/flow.json"
        data.append({"name": "flow.json", "asset_type": "FLOW_JSON", "download_url": url})
    return json_response({"data": data})


async def update_flow_json(request: web.Request) -> web.Response:
    record = _flow(request)
    params = await _params(request)
    _check(request, UPDATE_FLOW_JSON, params)
    if params.get("asset_type") != "FLOW_JSON":
        raise invalid_parameter("Param asset_type must be one of {FLOW_JSON}.")
    upload = params.get("file")
    if not isinstance(upload, web.FileField):
        text = "The parameter file is required."
        raise GraphError(100, text, message=f"(#100) {text}")
    content = upload.file.read()
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        text = ""  # refused below as JSON that does not parse
    return json_response(_book(request).update_json(record, text))


async def publish_flow(request: web.Request) -> web.Response:
    record = _flow(request)
    _check(request, PUBLISH_FLOW)
    _book(request).publish(record["id"], request.app[CORE].state.flow_public_key)
    return json_response({"success": True})


async def deprecate_flow(request: web.Request) -> web.Response:
    record = _flow(request)
    _check(request, DEPRECATE_FLOW)
    _book(request).deprecate(record)
    return json_response({"success": True})


# -- the number's endpoint encryption key ------------------------------------------------------------
async def get_encryption_key(request: web.Request) -> web.Response:
    core = request.app[CORE]
    _require(request, core.config.phone_number_id)
    _check(request, GET_ENCRYPTION_KEY)
    if not core.state.flow_public_key:
        return json_response({"data": []})
    key = {"business_public_key": core.state.flow_public_key, "business_public_key_signature_status": "VALID"}
    return json_response({"data": [key]})


async def set_encryption_key(request: web.Request) -> web.Response:
    core = request.app[CORE]
    _require(request, core.config.phone_number_id)
    params = await _params(request)
    _check(request, SET_ENCRYPTION_KEY, params)
    pem = params.get("business_public_key")
    if not isinstance(pem, str) or not pem.strip():
        text = "The parameter business_public_key is required."
        raise GraphError(100, text, message=f"(#100) {text}")
    try:
        from wacloud.flow_crypto import load_public_key

        load_public_key(pem)
    except ImportError:  # without cryptography: the PEM markers at least
        if "BEGIN PUBLIC KEY" not in pem:
            raise _invalid_key() from None
    except ValueError:
        raise _invalid_key() from None
    core.state.flow_public_key = pem.strip() + "\n"
    core.state.dirty = True
    return json_response({"success": True})


def _invalid_key() -> GraphError:
    return GraphError(
        100,
        message="Business public key is invalid",
        extra={
            "error_user_title": "Invalid Public Key",
            "error_user_msg": "The provided public key format is invalid",
        },
        with_error_data=False,
    )


# -- control: WhatsApp's side ---------------------------------------------------------------------------
async def control_flows(request: web.Request) -> web.Response:
    core = request.app[CORE]
    flows = [{k: v for k, v in f.items() if not k.startswith("_")} for f in FlowBook(core.state).ordered()]
    return json_response({"flows": flows, "public_key": core.state.flow_public_key or None})


async def control_endpoint(request: web.Request) -> web.Response:
    body = await read_params(request)
    return json_response(await call_endpoint(request.app[CORE], body))


async def control_complete(request: web.Request) -> web.Response:
    core = request.app[CORE]
    body = await read_params(request)
    response = body.get("response", {})
    if not isinstance(body.get("wamid"), str) or not isinstance(response, dict):
        raise invalid_parameter('Give "wamid" (a Flow message sent) and "response" (an object).')
    return json_response(core.inject(completion(core.state, body["wamid"], response)))


async def control_flow_json(request: web.Request) -> web.Response:
    record = _book(request).get(request.match_info["flow_id"])
    if record is None or record["flow_json"] is None:
        raise GraphError(100, "No such Flow JSON.", http_status=404)
    return web.Response(text=record["flow_json"], content_type="application/json")


async def control_preview(request: web.Request) -> web.Response:
    record = _book(request).get(request.match_info["flow_id"])
    now = request.app[CORE].state.now()
    if (
        record is None
        or request.query.get("token") != record["preview_token"]
        or record["preview_expires"] <= now
    ):
        raise GraphError(100, "The preview link is not valid or has expired.", http_status=404)
    flow = json.loads(record["flow_json"]) if record["flow_json"] else None
    return json_response(
        {"id": record["id"], "name": record["name"], "status": record["status"], "flow_json": flow}
    )


# -- cursors and registration ---------------------------------------------------------------------------
def _cursor(order: int) -> str:
    return base64.urlsafe_b64encode(f"flow:{order}".encode()).decode().rstrip("=")


def _order_of(cursor: str) -> int:
    try:
        prefix, order = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split(":")
        if prefix != "flow":
            raise ValueError(cursor)
        return int(order)
    except (ValueError, UnicodeDecodeError):
        raise invalid_parameter("Param after is not a valid cursor.") from None


def add_flow_routes(app: web.Application) -> None:
    """Register before the generic node routes: ``/<id>`` is a Flow's only when the id is one."""
    node = "/" + VERSION + "/{node:[^/_][^/]*}"
    app.router.add_get(node + "/flows", list_flows)
    app.router.add_post(node + "/flows", create_flow)
    app.router.add_get(node + "/assets", list_assets)
    app.router.add_post(node + "/assets", update_flow_json)
    app.router.add_post(node + "/publish", publish_flow)
    app.router.add_post(node + "/deprecate", deprecate_flow)
    app.router.add_get(node + "/whatsapp_business_encryption", get_encryption_key)
    app.router.add_post(node + "/whatsapp_business_encryption", set_encryption_key)
    app.router.add_get(node, get_flow)
    app.router.add_post(node, update_flow_metadata)
    app.router.add_delete(node, delete_flow)
    app.router.add_get("/_sandbox/flows", control_flows)
    app.router.add_post("/_sandbox/flows/endpoint", control_endpoint)
    app.router.add_post("/_sandbox/flows/complete", control_complete)
    app.router.add_get("/_sandbox/flows/{flow_id}/flow.json", control_flow_json)
    app.router.add_get("/_sandbox/flows/{flow_id}/preview", control_preview)
