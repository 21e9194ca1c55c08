"""Graph addresses every object the same way, ``/<version>/<id>``: a phone number, a WABA, a
media id, a template. A route of such a node serves the ids it knows and hands every other id
on to the next route that matches (another kind of node, or the generic node routes), so the
order in which areas register their routes does not matter."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from .graph_errors import unknown_object

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# The catch-all route (server.gate_routes), after every other: Graph's unknown-object error.
NO_ROUTE = "no-route"


def ungated(handler: Handler) -> Handler:
    """A route's own handler, without the gate the server wraps it in (server.gate_routes)."""
    return getattr(handler, "__wrapped__", handler)


async def next_route(request: web.Request, after: Handler | None = None) -> web.StreamResponse:
    """Answer ``request`` with the first route registered after the one serving it (or the
    one of the handler ``after``) that matches it; Graph's unknown-object error when none
    does. The route it hands on to sees its own path variables in ``request.match_info``."""
    serving = request.match_info.route.resource
    passed = False
    for resource in request.app.router.resources():
        if not passed:
            if after is None:
                passed = resource is serving
            else:
                passed = any(ungated(r.handler) is after for r in resource)
            continue
        if resource.name == NO_ROUTE:
            break
        match, _allowed = await resource.resolve(request)
        if match is not None:
            match.add_app(request.app)
            request._match_info = match  # the next handler reads its own path variables
            # The request passed the gate already: its token check and faults happen once.
            return await ungated(match.handler)(request)
    raise unknown_object(request.match_info.get("node", request.path), request.method)
