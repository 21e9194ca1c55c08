"""The control API for business-scoped user ids (sandbox/users.py): a user's ids, hiding a
user's number (they are then known by id only), and changing a user's ids (Meta's
``user_id_update`` webhook). ``{key}`` is a number or an id the user holds now."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import users
from .core import SandboxCore
from .routes import CORE, json_response, read_params

ENDPOINTS = {
    "GET /_sandbox/users/{key}": "a user's business-scoped user ids and whether their number is hidden",
    "POST /_sandbox/users/{key}": (
        '{"number_hidden": true|false}: webhooks and sends by id leave the number out'
    ),
    "POST /_sandbox/users/{key}/user_id": "give the user new ids; emits the user_id_update webhook",
}


def user(core: SandboxCore, key: str) -> dict[str, Any]:
    return users.user_view(core.config, core.state, users.find_number(core.state, key))


def set_user(core: SandboxCore, key: str, body: dict[str, Any]) -> dict[str, Any]:
    return users.hide_number(core.config, core.state, users.find_number(core.state, key), body)


def change_user_id(core: SandboxCore, key: str) -> dict[str, Any]:
    changed, body = users.change_user_id(core.config, core.state, users.find_number(core.state, key))
    if core.emitter.enabled:
        core.emitter.emit("user_id_update", body)
    return changed


async def get_user(request: web.Request) -> web.Response:
    return json_response(user(request.app[CORE], request.match_info["key"]))


async def post_user(request: web.Request) -> web.Response:
    body = await read_params(request)
    return json_response(set_user(request.app[CORE], request.match_info["key"], body))


async def post_user_id(request: web.Request) -> web.Response:
    return json_response(change_user_id(request.app[CORE], request.match_info["key"]))


def add_user_routes(app: web.Application) -> None:
    app.router.add_get("/_sandbox/users/{key}", get_user)
    app.router.add_post("/_sandbox/users/{key}", post_user)
    app.router.add_post("/_sandbox/users/{key}/user_id", post_user_id)
