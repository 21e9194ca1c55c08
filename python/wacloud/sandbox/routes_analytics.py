"""Graph routes of Meta's analytics (computed in :mod:`.meta_analytics`): the ``analytics``,
``pricing_analytics`` and ``conversation_analytics`` fields of the WABA node
(``GET /<WABA_ID>?fields=analytics.start(..).end(..).granularity(..)``) and
``GET /<WABA_ID>/template_analytics``. Neither is in Meta's vendored spec: their answers are
checked by tests/sandbox/test_meta_analytics.py."""

from __future__ import annotations

from aiohttp import web

from . import conformance
from .graph_errors import nonexisting_field, unknown_object
from .meta_analytics import ANSWERS, parse_field, split_fields, template_analytics
from .node_routes import next_route
from .routes import CORE, VERSION, json_response


async def get_waba_analytics(request: web.Request) -> web.StreamResponse:
    """The WABA node when its ``fields`` name an analytics field; anything else goes on."""
    core = request.app[CORE]
    fields = split_fields(request.query.get("fields", ""))
    parsed = [parse_field(text) for text in fields]
    if request.match_info["node"] != core.config.waba_id or not any(name in ANSWERS for name, _ in parsed):
        return await next_route(request, after=get_waba_analytics)
    waba = conformance.waba_node(core.config, core.ordered_templates())
    known = conformance.node_fields(conformance.GET_WABA, tuple(waba))
    answer = {}
    for text, (name, modifiers) in zip(fields, parsed, strict=True):
        if name in ANSWERS:
            answer[name] = ANSWERS[name](core, modifiers)
        elif text in known:
            answer[text] = waba[text]
        else:
            raise nonexisting_field(text, "WhatsAppBusinessAccount")
    answer["id"] = core.config.waba_id
    return json_response(answer)


async def get_template_analytics(request: web.Request) -> web.Response:
    core = request.app[CORE]
    if request.match_info["node"] != core.config.waba_id:
        raise unknown_object(request.match_info["node"], "GET")
    return json_response(template_analytics(core, request.query))


def add_analytics_routes(app: web.Application) -> None:
    node = "/" + VERSION + "/{node:[^/_][^/]*}"
    app.router.add_get(node + "/template_analytics", get_template_analytics)
    app.router.add_get(node, get_waba_analytics)
