"""Graph routes of onboarding and number management (Meta's rules are in :mod:`.account`):
registration, verification code, two-step PIN (``POST /<PHONE_NUMBER_ID>``), the WABA's
numbers and subscribed apps, the block list, QR codes and commerce settings. Each request is
checked against Meta's spec (:mod:`.conformance`) after the sandbox's own, more specific
checks."""

from __future__ import annotations

import base64
import re
import secrets
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from . import account, conformance
from .conformance import (
    BLOCK_USERS,
    DELETE_QR_CODE,
    DEREGISTER,
    GET_COMMERCE,
    GET_QR_CODE,
    LIST_BLOCKED,
    LIST_PHONE_NUMBERS,
    LIST_QR_CODES,
    LIST_SUBSCRIBED_APPS,
    REGISTER,
    REQUEST_CODE,
    SAVE_QR_CODE,
    SET_COMMERCE,
    SET_PIN,
    SUBSCRIBE_APP,
    UNBLOCK_USERS,
    UNSUBSCRIBE_APP,
    VERIFY_CODE,
)
from .graph_errors import GraphError, invalid_parameter, nonexisting_field, unknown_object
from .messages import normalize_recipient
from .node_routes import next_route
from .routes import CORE, VERSION, json_response, read_params

_PIN = re.compile(r"^[0-9]{6}$")
_QR_FIELD = re.compile(r"^qr_image_url(?:\.format\((PNG|SVG)\))?$")
QR_FIELDS = ("code", "prefilled_message", "deep_link_url", "creation_time")
SANDBOX_APP_NAME = "wacloud sandbox webhooks"


def _core(request: web.Request) -> Any:
    return request.app[CORE]


def _node(request: web.Request, kind: str) -> Any:
    """The core, after checking the path names the sandbox's phone number or WABA."""
    core = _core(request)
    expected = core.config.phone_number_id if kind == "phone" else core.config.waba_id
    if request.match_info["node"] != expected:
        raise unknown_object(request.match_info["node"], request.method)
    return core


def _required(name: str) -> GraphError:
    return GraphError(
        100, f"The parameter {name} is required.", message=f"(#100) The parameter {name} is required."
    )


def _pin(params: dict[str, Any], name: str = "pin") -> str:
    if name not in params:
        raise _required(name)
    value = params[name]
    if not isinstance(value, str) or not _PIN.match(value):
        raise invalid_parameter(f"Param {name} must be 6 digits.")
    return value


def _check(request: web.Request, operation: str, body: Any = None) -> None:
    conformance.check_request(_core(request).config, operation, request.query, body)


def _ok() -> web.Response:
    return json_response({"success": True})


def _base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _page(request: web.Request, items: list[Any], limit_max: int, default: int) -> dict[str, Any]:
    """Cursor paging over ``items`` (``limit``, ``after``), with Meta's ``paging`` object."""
    raw = request.query.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= limit_max:
        raise invalid_parameter(f"Param limit must be an integer from 1 to {limit_max}.")
    limit = int(raw)
    start = 0
    if request.query.get("after"):
        try:
            start = int(base64.b64decode(request.query["after"]).decode())
        except ValueError:
            raise invalid_parameter("Param after is not a cursor this edge gave.") from None
    page = items[start : start + limit]
    answer: dict[str, Any] = {"data": page}
    if page:
        cursors = {
            "before": base64.b64encode(str(start).encode()).decode(),
            "after": base64.b64encode(str(start + len(page)).encode()).decode(),
        }
        answer["paging"] = {"cursors": cursors}
        if start + limit < len(items):
            query = dict(request.query) | {"after": cursors["after"], "limit": str(limit)}
            url = f"{_base_url(request)}{request.path}?" + "&".join(f"{k}={v}" for k, v in query.items())
            answer["paging"]["next"] = url
    return answer


# -- registration, verification, PIN ----------------------------------------------------------
async def register(request: web.Request) -> web.Response:
    core = _node(request, "phone")
    params = await read_params(request)
    if params.get("messaging_product") != "whatsapp":
        raise (
            _required("messaging_product")
            if "messaging_product" not in params
            else invalid_parameter("Param messaging_product must be one of {WHATSAPP}.")
        )
    pin = _pin(params)
    _check(request, REGISTER, params)
    account.register(core.state, pin)
    return _ok()


async def deregister(request: web.Request) -> web.Response:
    core = _node(request, "phone")
    _check(request, DEREGISTER)
    account.deregister(core.state)
    return _ok()


async def request_code(request: web.Request) -> web.Response:
    core = _node(request, "phone")
    params = await read_params(request)
    for name in ("code_method", "language"):
        if name not in params:
            raise _required(name)
    if params["code_method"] not in ("SMS", "VOICE"):
        raise invalid_parameter("Param code_method must be one of {SMS, VOICE}.")
    _check(request, REQUEST_CODE, params)
    account.request_code(core.state)
    return _ok()


async def verify_code(request: web.Request) -> web.Response:
    core = _node(request, "phone")
    params = await read_params(request)
    code = _pin(params, "code")
    _check(request, VERIFY_CODE, params)
    account.verify_code(core.state, code)
    return _ok()


async def update_phone_number(request: web.Request) -> web.StreamResponse:
    """``POST /<PHONE_NUMBER_ID>`` sets the two-step PIN; other ids go on to other node routes."""
    core = _core(request)
    if request.match_info["node"] != core.config.phone_number_id:
        return await next_route(request, after=update_phone_number)
    params = await read_params(request)
    pin = _pin(params)
    _check(request, SET_PIN, params)
    account.set_pin(core.state, pin)
    return _ok()


async def list_phone_numbers(request: web.Request) -> web.Response:
    core = _node(request, "waba")
    _check(request, LIST_PHONE_NUMBERS)
    config, state = core.config, account.of(core.state)
    number = {
        "id": config.phone_number_id,
        "display_phone_number": config.display_phone_number,
        "verified_name": config.verified_name,
        "status": "LINKED" if state["registered"] else "UNLINKED",
        "quality_rating": "GREEN",
        "code_verification_status": "VERIFIED" if state["verified"] else "UNVERIFIED",
        "account_mode": "LIVE",
        "host_platform": "CLOUD_API",
        "messaging_limit_tier": "TIER_1K",
        "is_official_business_account": False,
    }
    return json_response(_page(request, [number], 100, 25))


# -- subscribed apps -----------------------------------------------------------------------------
def _app_view(core: Any) -> dict[str, Any]:
    from .tokens import APP_ID

    view: dict[str, Any] = {
        "whatsapp_business_api_data": {
            "id": APP_ID,
            "link": f"https://www.facebook.com/games/?app_id={APP_ID}",
            "name": SANDBOX_APP_NAME,
        }
    }
    override = account.of(core.state)["override_callback_uri"]
    if override:
        view["override_callback_uri"] = override
    return view


async def list_subscribed_apps(request: web.Request) -> web.Response:
    core = _node(request, "waba")
    _check(request, LIST_SUBSCRIBED_APPS)
    subscribed = account.subscribed(core.state, core.config)
    return json_response({"data": [_app_view(core)] if subscribed else []})


def _callback_uri_ok(uri: str) -> bool:
    """Meta takes https callback URLs only; the sandbox also takes http on this machine (tests)."""
    parsed = urlsplit(uri)
    local = parsed.scheme == "http" and parsed.hostname in ("127.0.0.1", "localhost", "::1")
    return bool(parsed.hostname) and (parsed.scheme == "https" or local)


async def _verify_callback(uri: str, verify_token: str) -> None:
    """Meta's check of an override callback URI: a GET with ``hub.challenge`` that must be
    answered 200 with the challenge (error 2200 otherwise)."""
    challenge = str(1_000_000 + secrets.randbelow(9_000_000))
    query = {"hub.mode": "subscribe", "hub.challenge": challenge, "hub.verify_token": verify_token}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            async with session.get(uri, params=query) as response:
                status, text = response.status, (await response.text()).strip()
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        status, text = 0, str(error)
    if status != 200 or text != challenge:
        problem = f"HTTP Status Code = {status}" if status else f"Couldn't connect to server ({text})"
        raise GraphError(
            2200,
            "Callback verification failed",
            message=f"(#2200) Callback verification failed with the following errors: {problem}",
        )


async def subscribe_app(request: web.Request) -> web.Response:
    core = _node(request, "waba")
    params = await read_params(request)
    override = params.get("override_callback_uri")
    if override is not None or "verify_token" in params:
        if not isinstance(override, str) or not _callback_uri_ok(override):
            raise invalid_parameter("Param override_callback_uri must be an https URL.")
        if not isinstance(params.get("verify_token"), str) or not params["verify_token"]:
            raise _required("verify_token")
    _check(request, SUBSCRIBE_APP, params)
    if override is not None:
        await _verify_callback(override, params["verify_token"])
    account.subscribe(core.state, override)
    return _ok()


async def unsubscribe_app(request: web.Request) -> web.Response:
    core = _node(request, "waba")
    _check(request, UNSUBSCRIBE_APP)
    account.unsubscribe(core.state)
    return _ok()


# -- block list ----------------------------------------------------------------------------------
def _block_users(params: dict[str, Any]) -> list[tuple[str, str | None]]:
    if params.get("messaging_product") != "whatsapp":
        raise _required("messaging_product")
    users = params.get("block_users")
    if users is None:
        raise _required("block_users")
    if not isinstance(users, list) or not 1 <= len(users) <= account.MAX_BLOCK_REQUEST:
        raise invalid_parameter(
            f"Param block_users must be an array of 1 to {account.MAX_BLOCK_REQUEST} users."
        )
    pairs: list[tuple[str, str | None]] = []
    for index, item in enumerate(users):
        if not isinstance(item, dict) or not isinstance(item.get("user"), str):
            raise _required(f"block_users[{index}]['user']")
        try:
            pairs.append((item["user"], normalize_recipient(item["user"])))
        except GraphError:
            pairs.append((item["user"], None))
    return pairs


def _block_answer(kind: str, lists: dict[str, Any]) -> web.Response:
    body = {"messaging_product": "whatsapp", "block_users": lists}
    if not lists.get("failed_users"):
        return json_response(body)
    # Some users failed: Meta answers 400 with error 139100 and the lists of what was done.
    verb = "block" if kind == "block" else "unblock"
    error = GraphError(
        139100,
        f"Failed to {verb} some users, see the block_users response list for details",
        message="(#139100) Failed to block/unblock users",
    )
    return json_response({**body, **error.body()}, status=400)


async def block_users(request: web.Request) -> web.Response:
    core = _node(request, "phone")
    params = await read_params(request)
    users = _block_users(params)
    _check(request, BLOCK_USERS, params)
    lists = account.block(core.state, users, core.config.display_phone_number, core.window_open)
    return _block_answer("block", lists)


async def unblock_users(request: web.Request) -> web.Response:
    core = _node(request, "phone")
    params = await read_params(request)
    users = _block_users(params)
    _check(request, UNBLOCK_USERS, params)
    return _block_answer("unblock", account.unblock(core.state, users))


async def list_blocked(request: web.Request) -> web.Response:
    core = _node(request, "phone")
    _check(request, LIST_BLOCKED)
    users = [{"messaging_product": "whatsapp", "wa_id": wa_id} for wa_id in account.of(core.state)["blocked"]]
    return json_response(_page(request, users, 100, 100))


# -- QR codes ------------------------------------------------------------------------------------
def _image_format(fields: str) -> str | None:
    """The format asked with ``qr_image_url.format(PNG|SVG)`` in ``fields`` (PNG when bare)."""
    for name in (f.strip() for f in fields.split(",") if f.strip()):
        match = _QR_FIELD.match(name)
        if match:
            return match.group(1) or "PNG"
        if name not in QR_FIELDS:
            raise nonexisting_field(name, "MessageQrdl")
    return None


async def save_qr_code(request: web.Request) -> web.Response:
    core = _node(request, "phone")
    params = await read_params(request)
    message = params.get("prefilled_message")
    if message is None:
        raise _required("prefilled_message")
    if not isinstance(message, str) or not message.strip() or len(message) > 140:
        raise invalid_parameter(
            "Param prefilled_message must be a non-empty string of at most 140 characters."
        )
    image_format = params.get("generate_qr_image")
    if image_format is not None and image_format not in ("PNG", "SVG"):
        raise invalid_parameter("Param generate_qr_image must be one of {PNG, SVG}.")
    _check(request, SAVE_QR_CODE, params)
    codes = account.of(core.state)["qr_codes"]
    if "code" in params:
        record = codes.get(params["code"])
        if record is None:
            raise invalid_parameter(f"QR code {params['code']} does not exist for this number.")
        record["prefilled_message"] = message
        core.state.dirty = True
    else:
        record = account.new_qr_code(core.state, message, image_format)
    return json_response(
        account.qr_view(record, _base_url(request), image_format or record.get("image_format"))
    )


async def list_qr_codes(request: web.Request) -> web.Response:
    core = _node(request, "phone")
    _check(request, LIST_QR_CODES)
    image_format = _image_format(request.query.get("fields", ""))
    codes = list(account.of(core.state)["qr_codes"].values())
    if request.query.get("code"):
        codes = [c for c in codes if c["code"] == request.query["code"]]
    views = [account.qr_view(c, _base_url(request), image_format) for c in codes]
    return json_response(_page(request, views, 25, 25))


def _qr_record(request: web.Request) -> tuple[Any, dict[str, Any]]:
    core = _node(request, "phone")
    code = request.match_info["code"]
    record = account.of(core.state)["qr_codes"].get(code)
    if record is None:
        raise unknown_object(code, request.method)
    return core, record


async def get_qr_code(request: web.Request) -> web.Response:
    record = _qr_record(request)[1]
    _check(request, GET_QR_CODE)
    image_format = _image_format(request.query.get("fields", ""))
    return json_response(account.qr_view(record, _base_url(request), image_format))


async def delete_qr_code(request: web.Request) -> web.Response:
    core, record = _qr_record(request)
    _check(request, DELETE_QR_CODE)
    del account.of(core.state)["qr_codes"][record["code"]]
    core.state.dirty = True
    return _ok()


async def qr_image(request: web.Request) -> web.Response:
    """The image a QR code's ``qr_image_url`` points at (a stand-in, see :func:`account.qr_image`)."""
    core = _core(request)
    code, image_format = request.match_info["code"], request.match_info["format"]
    if code not in account.of(core.state)["qr_codes"]:
        raise GraphError(100, "The QR code does not exist.", http_status=404)
    data, content_type = account.qr_image(code, image_format)
    return web.Response(body=data, content_type=content_type)


# -- commerce settings ---------------------------------------------------------------------------
async def get_commerce(request: web.Request) -> web.Response:
    core = _node(request, "phone")
    _check(request, GET_COMMERCE)
    settings = account.of(core.state)["commerce"]
    return json_response({"data": [{**settings, "id": core.config.phone_number_id}]})


async def set_commerce(request: web.Request) -> web.Response:
    core = _node(request, "phone")
    params = {**await read_params(request), **dict(request.query)}
    given = {k: params[k] for k in ("is_cart_enabled", "is_catalog_visible") if k in params}
    if not given:
        raise _required("is_cart_enabled")
    settings = {}
    for name, value in given.items():
        text = str(value).lower()
        if text not in ("true", "false"):
            raise invalid_parameter(f"Param {name} must be a boolean.")
        settings[name] = text == "true"
    _check(request, SET_COMMERCE)
    account.of(core.state)["commerce"].update(settings)
    core.state.dirty = True
    return _ok()


# -- control: the number's side of onboarding ------------------------------------------------------
ENDPOINTS = {
    "GET /_sandbox/number": (
        "registration, verification, the last verification code sent (pending_code), PIN, "
        "webhook subscription, block list, commerce settings"
    ),
    "POST /_sandbox/number": '{"registered": bool, "verified": bool, "pin": "123456"|null}: a new number',
}


def number_state(core: Any) -> dict[str, Any]:
    state = account.of(core.state)
    return {
        "registered": state["registered"],
        "verified": state["verified"],
        "pin": state["pin"],
        "pending_code": state["pending_code"],
        "subscribed": account.subscribed(core.state, core.config),
        "override_callback_uri": state["override_callback_uri"],
        "blocked": list(state["blocked"]),
        "qr_codes": list(state["qr_codes"]),
        "commerce": dict(state["commerce"]),
    }


def set_number(core: Any, body: dict[str, Any]) -> dict[str, Any]:
    state = account.of(core.state)
    for name in ("registered", "verified"):
        if name in body:
            if not isinstance(body[name], bool):
                raise invalid_parameter(f"{name} must be true or false.")
            state[name] = body[name]
    if "pin" in body:
        if body["pin"] is not None and not (isinstance(body["pin"], str) and _PIN.match(body["pin"])):
            raise invalid_parameter("pin must be 6 digits or null.")
        state["pin"] = body["pin"]
    core.state.dirty = True
    return number_state(core)


async def get_number_control(request: web.Request) -> web.Response:
    return json_response(number_state(_core(request)))


async def post_number_control(request: web.Request) -> web.Response:
    return json_response(set_number(_core(request), await read_params(request)))


def add_account_routes(app: web.Application) -> None:
    node = "/" + VERSION + "/{node:[^/_][^/]*}"
    router = app.router
    router.add_post(node + "/register", register)
    router.add_post(node + "/deregister", deregister)
    router.add_post(node + "/request_code", request_code)
    router.add_post(node + "/verify_code", verify_code)
    router.add_get(node + "/phone_numbers", list_phone_numbers)
    router.add_get(node + "/subscribed_apps", list_subscribed_apps)
    router.add_post(node + "/subscribed_apps", subscribe_app)
    router.add_delete(node + "/subscribed_apps", unsubscribe_app)
    router.add_get(node + "/block_users", list_blocked)
    router.add_post(node + "/block_users", block_users)
    router.add_delete(node + "/block_users", unblock_users)
    router.add_get(node + "/message_qrdls", list_qr_codes)
    router.add_post(node + "/message_qrdls", save_qr_code)
    router.add_get(node + "/message_qrdls/{code}", get_qr_code)
    router.add_delete(node + "/message_qrdls/{code}", delete_qr_code)
    router.add_get(node + "/whatsapp_commerce_settings", get_commerce)
    router.add_post(node + "/whatsapp_commerce_settings", set_commerce)
    router.add_post(node, update_phone_number)
    from .routes_analytics import add_analytics_routes

    add_analytics_routes(app)
    router.add_get("/_sandbox/qr/{code}.{format:png|svg}", qr_image)
    router.add_get("/_sandbox/number", get_number_control)
    router.add_post("/_sandbox/number", post_number_control)
