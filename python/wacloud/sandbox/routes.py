"""The Graph API routes the Cloud API serves: messages, media, templates, the
phone number node and the business profile. Every path takes any ``vNN.N``
version prefix, as graph.facebook.com does."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from . import account, conformance, messages, templates
from .core import SandboxCore
from .flows import check_flow_send
from .graph_errors import GraphError, invalid, invalid_parameter, nonexisting_field, unknown_object
from .messages import ACCEPTED_MIME
from .tokens import fingerprint

CORE = web.AppKey("core", SandboxCore)
# Request key: the bearer token the gate accepted (a typed key where aiohttp has them).
TOKEN: Any = web.RequestKey("access_token", str) if hasattr(web, "RequestKey") else "wacloud.access_token"
VERSION = r"{version:v\d+\.\d+}"

# Meta's size limits per media category (bytes).
SIZE_LIMITS = {
    "image": 5 << 20,
    "audio": 16 << 20,
    "video": 16 << 20,
    "document": 100 << 20,
    "sticker": 500 << 10,
}
STATIC_STICKER_LIMIT = 100 << 10


def is_animated_webp(data: bytes) -> bool:
    """A WebP file is animated when its extended header (VP8X) sets the animation flag."""
    return data[:4] == b"RIFF" and data[8:16] == b"WEBPVP8X" and len(data) > 20 and bool(data[20] & 0x02)


MIME_CATEGORY = {mime: kind for kind, mimes in ACCEPTED_MIME.items() for mime in mimes}
PHONE_FIELDS = (
    "verified_name",
    "code_verification_status",
    "display_phone_number",
    "quality_rating",
    "platform_type",
    "throughput",
    "id",
)
EXTRA_PHONE_FIELDS = (
    "messaging_limit_tier",
    "name_status",
    "status",
    "account_mode",
    "is_official_business_account",
    "webhook_configuration",
)
PROFILE_FIELDS = (
    "about",
    "address",
    "description",
    "email",
    "profile_picture_url",
    "websites",
    "vertical",
    "messaging_product",
)
VERTICALS = frozenset(
    "UNDEFINED OTHER AUTO BEAUTY APPAREL EDU ENTERTAIN EVENT_PLAN FINANCE GROCERY GOVT HOTEL HEALTH "
    "NONPROFIT PROF_SERVICES RETAIL TRAVEL RESTAURANT ALCOHOL ONLINE_GAMBLING PHYSICAL_GAMBLING "
    "OTC_DRUGS NOT_A_BIZ".split()
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode(),
        status=status,
        content_type="application/json",
    )


_json_string = json.encoder.encode_basestring  # json.dumps' own (C) for ensure_ascii=False
_SEND_ANSWER = '{"messaging_product":"whatsapp","contacts":[{"input":%s,"wa_id":%s}],"messages":[{"id":%s}]}'


def send_answer_response(to: str, wa_id: str, wamid: str) -> web.Response:
    """``json_response(core.send_answer(message, wamid))`` for the usual send (to a number, not
    a template), byte for byte, from a template: the generic encoder cost as much as the rest
    of the sandbox's own work on a send."""
    text = _SEND_ANSWER % (_json_string(to), _json_string(wa_id), _json_string(wamid))
    return web.Response(body=text.encode(), content_type="application/json")


async def read_params(request: web.Request) -> dict[str, Any]:
    """The request's parameters: a JSON object, or form fields whose JSON values are decoded
    (Graph accepts both)."""
    # The usual header read as is: parsing it (request.content_type) costs more than the check.
    json_body = request.headers.get("Content-Type") == "application/json"
    if not json_body and request.content_type == "application/x-www-form-urlencoded":
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            text = str(value)
            try:
                params[key] = json.loads(text) if text[:1] in "{[" else text
            except json.JSONDecodeError:
                params[key] = text
        return params
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        params = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise invalid_parameter("The request body is not valid JSON.") from None
    if not isinstance(params, dict):
        raise invalid_parameter("The request body must be a JSON object.")
    return params


def _require_node(request: web.Request, expected: str) -> None:
    node = request.match_info["node"]
    if node != expected:
        raise unknown_object(node, request.method)


def _messaging_product(params: dict[str, Any]) -> None:
    product = params.get("messaging_product")
    if product is None:
        raise GraphError(
            100,
            "The parameter messaging_product is required.",
            message="(#100) The parameter messaging_product is required.",
        )
    if product != "whatsapp":
        raise invalid_parameter(f'Param messaging_product must be one of {{WHATSAPP}} - got "{product}".')


def _fields(
    request: web.Request, default: tuple[str, ...], known: tuple[str, ...], node_type: str
) -> list[str]:
    wanted = [f.strip() for f in request.query.get("fields", "").split(",") if f.strip()] or list(default)
    for name in wanted:
        if name not in known:
            raise nonexisting_field(name, node_type)
    return wanted if "id" in wanted else [*wanted, "id"]


# -- messages -----------------------------------------------------------------------
async def send_message(request: web.Request) -> web.Response:
    core = request.app[CORE]
    _require_node(request, core.config.phone_number_id)
    params = await read_params(request)
    _messaging_product(params)
    if "status" in params:
        # Not checked against the spec: it shows mark-read only as an example, in no schema.
        return json_response(core.mark_read(messages.parse_mark_read(params)))
    message = messages.parse_send(params, core.media_mime)
    check_flow_send(core.state, params)  # the Flow a flow message opens must exist and be sendable
    if conformance.enabled(core.config):  # (request.query is parsed on first use)
        conformance.check_request(core.config, conformance.SEND_MESSAGE, request.query, params)
    account.check_send(core.state, message.wa_id)  # a deregistered number or a blocked user: refused
    # Which token sent it, as a fingerprint: rotation tests check the right one was used.
    token = request.get(TOKEN)
    record = core.record_send(message, request.match_info["version"], fingerprint(token) if token else None)
    if message.user_id is None and message.type != "template":
        return send_answer_response(message.to, message.wa_id, record["id"])
    return json_response(core.send_answer(message, record["id"]))


# -- access tokens --------------------------------------------------------------------
async def debug_token(request: web.Request) -> web.Response:
    """Meta's ``GET /debug_token?input_token=...``: what the sandbox knows of that token."""
    input_token = request.query.get("input_token", "")
    if not input_token:
        required = "The parameter input_token is required"
        raise GraphError(100, required + ".", message=f"(#100) {required}")
    return json_response(request.app[CORE].tokens.debug(input_token))


# -- media --------------------------------------------------------------------------
async def upload_media(request: web.Request) -> web.Response:
    core = request.app[CORE]
    _require_node(request, core.config.phone_number_id)
    if not request.content_type.startswith("multipart/"):
        raise invalid_parameter("Media must be uploaded as multipart/form-data with a file field.")
    form = await request.post()
    _messaging_product(dict(form))
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        raise GraphError(
            100, "The parameter file is required.", message="(#100) The parameter file is required."
        )
    if not form.get("type"):
        raise GraphError(
            100, "The parameter type is required.", message="(#100) The parameter type is required."
        )
    mime_type = str(form.get("type")).strip()
    category = MIME_CATEGORY.get(mime_type.split(";")[0].strip())
    if category is None:
        accepted = ", ".join(sorted(MIME_CATEGORY))
        raise invalid_parameter(
            f"Param file must be a file with one of the following types: {accepted}. "
            f"Received file of type '{mime_type}'."
        )
    data = upload.file.read()
    if not data:
        raise invalid_parameter("Param file must not be empty.")
    if mime_type == "image/webp":
        # Stickers: a static one at most 100 KB, an animated one 500 KB.
        animated = is_animated_webp(data)
        limit = SIZE_LIMITS["sticker"] if animated else STATIC_STICKER_LIMIT
        if len(data) > limit:
            kind = "an animated" if animated else "a static"
            raise invalid_parameter(
                f"Param file must be at most {limit} bytes for {kind} image/webp sticker."
            )
    if len(data) > SIZE_LIMITS[category]:
        raise invalid_parameter(
            f"Param file must be at most {SIZE_LIMITS[category]} bytes for {category} media."
        )
    record = core.store_media(data, mime_type, upload.filename)
    return json_response({"id": record["id"]})


def _base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


async def get_node(request: web.Request) -> web.Response:
    core = request.app[CORE]
    node = request.match_info["node"]
    config = core.config
    if node == config.phone_number_id:
        conformance.check_request(config, conformance.GET_PHONE_NUMBER, request.query)
        known = conformance.node_fields(conformance.GET_PHONE_NUMBER, PHONE_FIELDS + EXTRA_PHONE_FIELDS)
        fields = _fields(request, PHONE_FIELDS, known, "WhatsAppBusinessPhoneNumber")
        rate = config.messages_per_second or 0
        info = {
            "verified_name": config.verified_name,
            "code_verification_status": "VERIFIED" if core.state.account["verified"] else "UNVERIFIED",
            "display_phone_number": config.display_phone_number,
            "quality_rating": "GREEN",
            "platform_type": "CLOUD_API",
            "throughput": {"level": "HIGH" if rate >= 1000 or not rate else "STANDARD"},
            "id": config.phone_number_id,
            "messaging_limit_tier": "TIER_1K",
            "name_status": "APPROVED",
            "status": "CONNECTED" if core.state.account["registered"] else "DISCONNECTED",
            "account_mode": "LIVE",
            "is_official_business_account": False,
            "webhook_configuration": {"application": config.webhook_url or ""},
        }
        return json_response({f: info[f] for f in fields})
    if node == config.waba_id:
        conformance.check_request(config, conformance.GET_WABA, request.query)
        waba = conformance.waba_node(config, core.ordered_templates())
        known = conformance.node_fields(conformance.GET_WABA, tuple(waba))
        fields = _fields(request, conformance.WABA_DEFAULT_FIELDS, known, "WhatsAppBusinessAccount")
        return json_response({f: waba[f] for f in fields})
    conformance.check_request(config, conformance.GET_MEDIA, request.query)
    record = core.live_media(node)
    if record is None:
        raise unknown_object(node, "GET")  # never existed, deleted, or expired
    return json_response(
        {
            "messaging_product": "whatsapp",
            "url": core.media_url(node, _base_url(request)),
            "mime_type": record["mime_type"],
            "sha256": record["sha256"],
            "file_size": record["file_size"],
            "id": node,
        }
    )


async def delete_node(request: web.Request) -> web.Response:
    core = request.app[CORE]
    node = request.match_info["node"]
    conformance.check_request(core.config, conformance.DELETE_MEDIA, request.query)
    if node not in core.state.media:
        raise unknown_object(node, "DELETE")
    del core.state.media[node]
    core.state.media_bytes.pop(node, None)
    core.state.dirty = True
    return json_response({"success": True})


async def download_media(request: web.Request) -> web.Response:
    core = request.app[CORE]
    media_id = request.query.get("mid", "")
    data = core.state.media_bytes.get(media_id)
    valid = core.media_url_valid(media_id, request.query.get("ext", ""), request.query.get("hash", ""))
    if data is None or not valid:  # wrong, deleted, or older than 5 minutes
        raise GraphError(100, "The media URL is not valid or the media was deleted.", http_status=404)
    record = core.state.media[media_id]
    headers = {}
    if record.get("filename"):
        headers["Content-Disposition"] = f'attachment; filename="{record["filename"]}"'
    return web.Response(body=data, content_type=record["mime_type"].split(";")[0], headers=headers)


# -- templates ----------------------------------------------------------------------
async def list_templates(request: web.Request) -> web.Response:
    core = request.app[CORE]
    _require_node(request, core.config.waba_id)
    conformance.check_request(core.config, conformance.LIST_TEMPLATES, request.query)
    base = f"{_base_url(request)}{request.path}"
    return json_response(templates.list_page(core.ordered_templates(), dict(request.query), base))


async def create_template(request: web.Request) -> web.Response:
    core = request.app[CORE]
    _require_node(request, core.config.waba_id)
    params = await read_params(request)
    conformance.check_request(core.config, conformance.CREATE_TEMPLATE, request.query, params)
    return json_response(core.create_template(params))


async def delete_template(request: web.Request) -> web.Response:
    core = request.app[CORE]
    _require_node(request, core.config.waba_id)
    conformance.check_request(core.config, conformance.DELETE_TEMPLATE, request.query)
    name = request.query.get("name")
    if not name:
        raise GraphError(
            100, "The parameter name is required.", message="(#100) The parameter name is required."
        )
    hsm_id = request.query.get("hsm_id")
    doomed = [
        t["id"] for t in core.state.templates.values() if t["name"] == name and hsm_id in (None, t["id"])
    ]
    if not doomed:
        raise templates.template_error(
            "Message template not found", f'Message template "{name}" could not be found.'
        )
    for template_id in doomed:
        del core.state.templates[template_id]
    core.state.dirty = True
    return json_response({"success": True})


# -- business profile -----------------------------------------------------------------
async def get_profile(request: web.Request) -> web.Response:
    core = request.app[CORE]
    _require_node(request, core.config.phone_number_id)
    conformance.check_request(core.config, conformance.GET_PROFILE, request.query)
    wanted = [f.strip() for f in request.query.get("fields", "").split(",") if f.strip()] or list(
        PROFILE_FIELDS
    )
    known = conformance.node_fields(conformance.GET_PROFILE, PROFILE_FIELDS, list_items=True)
    unknown = [f for f in wanted if f not in known]
    if unknown:
        raise nonexisting_field(unknown[0], "WhatsAppBusinessProfile")
    profile = core.state.profile
    # Meta always names the messaging product and leaves out fields that were never set.
    answer = {f: profile[f] for f in wanted if profile.get(f) not in (None, "", [])}
    return json_response({"data": [{**answer, "messaging_product": "whatsapp"}]})


def _profile_text(params: dict[str, Any], key: str, limit: int) -> None:
    if key in params and (not isinstance(params[key], str) or len(params[key]) > limit):
        raise invalid(f"Param {key} must be a string of at most {limit} characters.")


async def update_profile(request: web.Request) -> web.Response:
    core = request.app[CORE]
    _require_node(request, core.config.phone_number_id)
    params = await read_params(request)
    _messaging_product(params)
    for key, limit in (("about", 139), ("address", 256), ("description", 512), ("email", 128)):
        _profile_text(params, key, limit)
    if params.get("about") == "":
        raise invalid("Param about must not be empty.")
    if params.get("email") and not _EMAIL.match(params["email"]):
        raise invalid("Param email must be a valid email address.")
    websites = params.get("websites")
    if websites is not None:
        if not isinstance(websites, list) or len(websites) > 2:
            raise invalid("Param websites must be an array of at most 2 URLs.")
        for site in websites:
            if not isinstance(site, str) or len(site) > 256 or not re.match(r"^https?://", site):
                raise invalid("Each website must be an http or https URL of at most 256 characters.")
    if "vertical" in params and params["vertical"] not in VERTICALS:
        raise invalid(f"Param vertical must be one of {{{', '.join(sorted(VERTICALS))}}}.")
    conformance.check_request(core.config, conformance.UPDATE_PROFILE, request.query, params)
    from . import routes_uploads  # it imports this module

    picture = routes_uploads.known_handle(core.state, params.get("profile_picture_handle"))
    if "profile_picture_handle" in params and not (picture and picture["file_type"].startswith("image/")):
        raise invalid_parameter(
            "Param profile_picture_handle must be the handle of an image uploaded with the Resumable "
            "Upload API (POST /<APP_ID>/uploads)."
        )
    profile = core.state.profile
    for key in ("about", "address", "description", "email", "websites", "vertical"):
        if key in params:
            profile[key] = params[key]
    if isinstance(params.get("profile_picture_handle"), str):
        profile["profile_picture_url"] = routes_uploads.file_url(_base_url(request), picture)
    core.state.dirty = True
    return json_response({"success": True})


def add_routes(app: web.Application) -> None:
    node = "/" + VERSION + "/{node:[^/_][^/]*}"
    app.router.add_post(node + "/messages", send_message)  # first: the router tries them in order
    app.router.add_get("/" + VERSION + "/debug_token", debug_token)  # before the node routes
    from . import routes_uploads  # it imports this module

    routes_uploads.add_upload_routes(app)  # /upload:<session> too
    from .routes_flows import add_flow_routes  # it imports this module

    add_flow_routes(app)  # first of the node routes: it hands every id that is not a Flow on
    app.router.add_post(node + "/media", upload_media)
    app.router.add_get(node + "/message_templates", list_templates)
    app.router.add_post(node + "/message_templates", create_template)
    app.router.add_delete(node + "/message_templates", delete_template)
    app.router.add_get(node + "/whatsapp_business_profile", get_profile)
    app.router.add_post(node + "/whatsapp_business_profile", update_profile)
    from .routes_templates import add_template_routes  # it builds on this module

    add_template_routes(app)  # /<TEMPLATE_ID>; other ids go on to get_node
    from .routes_account import add_account_routes  # onboarding, uploads, Meta's analytics

    add_account_routes(app)
    app.router.add_get(node, get_node)
    app.router.add_delete(node, delete_node)
    app.router.add_get("/whatsapp_business/attachments/", download_media)
