"""Meta's Resumable Upload API: ``POST /<APP_ID>/uploads`` opens a session for a file of
``file_length`` bytes; ``POST /upload:<id>`` with a ``file_offset`` header appends the body
and, once every byte is in, answers the file handle ``h``; ``GET /upload:<id>`` tells how many
bytes the session holds (``file_offset``), where an interrupted transfer resumes.

A handle names what was uploaded (``profile_picture_handle``, a template's ``header_handle``);
the bytes stay in memory only (``State.upload_bytes``), the sessions and handles in the state
file. Not in Meta's vendored spec: these routes are checked by tests/sandbox/test_uploads.py."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

from aiohttp import web

from . import account
from .graph_errors import GraphError, invalid_parameter, unknown_object
from .routes import CORE, VERSION, json_response
from .tokens import APP_ID

UPLOAD_TYPES = ("application/pdf", "image/jpeg", "image/jpg", "image/png", "video/mp4")
MAX_FILE_LENGTH = 100 << 20  # what the sandbox holds in memory per file
_CHUNK = 64 << 10


def _required(name: str) -> GraphError:
    return GraphError(
        100, f"The parameter {name} is required.", message=f"(#100) The parameter {name} is required."
    )


def _signature(core: Any, session_key: str) -> str:
    digest = hmac.new(core.config.app_secret.encode(), session_key.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:12]).decode().rstrip("=")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def start_session(request: web.Request) -> web.Response:
    core = request.app[CORE]
    if request.match_info["node"] != APP_ID:
        raise unknown_object(request.match_info["node"], "POST")
    params = dict(request.query)
    for name in ("file_name", "file_length", "file_type"):
        if not params.get(name):
            raise _required(name)
    if params["file_type"] not in UPLOAD_TYPES:
        raise invalid_parameter(f"Param file_type must be one of {{{', '.join(UPLOAD_TYPES)}}}.")
    length = params["file_length"]
    if not length.isdigit() or not 0 < int(length) <= MAX_FILE_LENGTH:
        raise invalid_parameter(f"Param file_length must be a byte count from 1 to {MAX_FILE_LENGTH}.")
    raw = f"1:attachment:{secrets.token_hex(12)}?file_length={length}&file_type={params['file_type']}"
    key = "upload:" + base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    account.of(core.state)["uploads"][key] = {
        "file_name": params["file_name"],
        "file_type": params["file_type"],
        "file_length": int(length),
        "created_at": core.state.now(),
        "handle": None,
    }
    core.state.upload_bytes[key] = bytearray()
    core.state.dirty = True
    return json_response({"id": f"{key}?sig={_signature(core, key)}"})


def _session(request: web.Request) -> tuple[Any, str, dict[str, Any]]:
    core = request.app[CORE]
    key = request.match_info["session"]
    session = account.of(core.state)["uploads"].get(key)
    signature = request.query.get("sig", "")
    if session is None or not hmac.compare_digest(signature, _signature(core, key)):
        raise unknown_object(key, request.method)
    return core, key, session


async def session_offset(request: web.Request) -> web.Response:
    core, key, _session_record = _session(request)
    held = len(core.state.upload_bytes.get(key, b""))
    return json_response({"id": f"{key}?sig={request.query.get('sig', '')}", "file_offset": held})


def _finish(core: Any, key: str, session: dict[str, Any]) -> str:
    data = bytes(core.state.upload_bytes.pop(key))
    handle = f"4:{_b64(session['file_name'])}:{_b64(session['file_type'])}:ARb{secrets.token_urlsafe(18)}"
    account.of(core.state)["handles"][handle] = {
        "url_id": secrets.token_hex(8),  # handles hold base64 ("/"): URLs name the file by this
        "file_name": session["file_name"],
        "file_type": session["file_type"],
        "file_length": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "created_at": core.state.now(),
    }
    core.state.upload_bytes[handle] = bytearray(data)
    session["handle"] = handle
    core.state.dirty = True
    return handle


async def upload_data(request: web.Request) -> web.StreamResponse:
    core, key, session = _session(request)
    offset = request.headers.get("file_offset")
    if offset is None or not offset.isdigit():
        raise _required("file_offset")
    if session["handle"] is not None:  # done already: the answer may have been lost, say it again
        return json_response({"h": session["handle"]})
    held = core.state.upload_bytes.setdefault(key, bytearray())
    if int(offset) != len(held):
        raise invalid_parameter(
            f"file_offset {offset} does not match the {len(held)} bytes this session holds: "
            "GET the session for the offset to resume from."
        )
    faults = core.config.faults
    cut_after = faults.upload_cut_after
    received = 0
    async for chunk in request.content.iter_chunked(_CHUNK):
        if cut_after and received + len(chunk) >= cut_after:
            # A dropped connection: the bytes that arrived stay, the client hears nothing.
            held.extend(chunk[: cut_after - received])
            faults.upload_cut_after = 0
            core.state.dirty = True
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)
        held.extend(chunk)
        received += len(chunk)
        if len(held) > session["file_length"]:
            del held[session["file_length"] :]
            raise invalid_parameter(f"The upload is longer than its file_length ({session['file_length']}).")
    core.state.dirty = True
    if len(held) < session["file_length"]:
        # Meta keeps what came and names no handle until the file is whole.
        return json_response({"id": f"{key}?sig={request.query['sig']}", "file_offset": len(held)})
    return json_response({"h": _finish(core, key, session)})


async def uploaded_file(request: web.Request) -> web.Response:
    """What a handle names (``profile_picture_url`` points here); not part of Meta's API."""
    core = request.app[CORE]
    handles = account.of(core.state)["handles"]
    handle = next((h for h, r in handles.items() if r["url_id"] == request.match_info["url_id"]), None)
    record = handles.get(handle) if handle else None
    data = core.state.upload_bytes.get(handle) if handle else None
    if record is None or data is None:
        raise GraphError(100, "No uploaded file has this handle.", http_status=404)
    return web.Response(body=bytes(data), content_type=record["file_type"].replace("image/jpg", "image/jpeg"))


def known_handle(state: Any, handle: Any) -> dict[str, Any] | None:
    """The upload a file handle names, or None."""
    return account.of(state)["handles"].get(handle) if isinstance(handle, str) else None


def add_upload_routes(app: web.Application) -> None:
    """Before the node routes: ``upload:<id>`` would match them as a node id."""
    session = "/" + VERSION + "/{session:upload:[^/]+}"
    app.router.add_post(session, upload_data)
    app.router.add_get(session, session_offset)
    app.router.add_post("/" + VERSION + "/{node:[0-9]+}/uploads", start_session)
    app.router.add_get("/_sandbox/uploads/{url_id}", uploaded_file)


def file_url(base_url: str, record: dict[str, Any]) -> str:
    return f"{base_url}/_sandbox/uploads/{record['url_id']}"
