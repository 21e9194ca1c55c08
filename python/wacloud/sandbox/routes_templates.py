"""A message template by its id: ``GET /<TEMPLATE_ID>`` (its fields) and ``POST /<TEMPLATE_ID>``
(an edit, by Meta's rules in :func:`.templates.validate_edit`). Ids that are not templates go
on to the other node routes."""

from __future__ import annotations

from aiohttp import web

from . import conformance, routes, templates
from .node_routes import next_route


async def get_template(request: web.Request) -> web.StreamResponse:
    core = request.app[routes.CORE]
    template = core.state.templates.get(request.match_info["node"])
    if template is None:
        return await next_route(request, after=get_template)
    conformance.check_request(core.config, conformance.GET_TEMPLATE, request.query)
    return routes.json_response(templates.template_node(template, dict(request.query)))


async def edit_template(request: web.Request) -> web.StreamResponse:
    core = request.app[routes.CORE]
    template = core.state.templates.get(request.match_info["node"])
    if template is None:
        return await next_route(request, after=edit_template)
    params = await routes.read_params(request)
    conformance.check_request(core.config, conformance.EDIT_TEMPLATE, request.query, params)
    core.edit_template(template, params)
    return routes.json_response({"success": True})


def add_template_routes(app: web.Application) -> None:
    node = "/" + routes.VERSION + r"/{node:\d+}"  # template ids are numeric
    app.router.add_get(node, get_template)
    app.router.add_post(node, edit_template)
