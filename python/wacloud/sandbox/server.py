"""The aiohttp application: Graph routes behind bearer-token auth and faults,
the control API, and Meta-shaped answers for every failure.

aiohttp serves thousands of keep-alive requests per second on one core from one
asyncio loop, which also runs the webhook worker and the status timers, so no
threads or locks are needed around the state."""

from __future__ import annotations

import asyncio
import ctypes
import functools
import gc
import logging
import random
import re
from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler

from . import conformance, control, node_routes, routes, routes_users
from .config import SandboxConfig
from .core import SandboxCore
from .faults import fault_middleware, quiet
from .graph_errors import GraphError, unknown_object
from .tokens import TokenBook

log = logging.getLogger("wacloud.sandbox")

CONTROL_PREFIX = "/_sandbox"
MAX_BODY = 101 << 20  # documents may be 100 MB
_NO_TOKEN = "An active access token must be used to query information about the current user."
_BEARER = re.compile(r"^\s*(?:Bearer|OAuth)\s+(\S+)\s*$", re.IGNORECASE)


def error_response(error: GraphError) -> web.Response:
    response = routes.json_response(error.body(), status=error.http_status)
    response.headers.update(error.headers())
    return response


def meta_error(request: web.Request, failure: Exception) -> web.Response:
    """Meta's error object for a failure: never an HTML page or a traceback."""
    if isinstance(failure, GraphError):
        return error_response(failure)
    if isinstance(failure, web.HTTPException):
        if failure.status in (404, 405):
            last = request.path.rstrip("/").rsplit("/", 1)[-1] or "/"
            return error_response(unknown_object(last, request.method))
        if failure.status == 413:
            return error_response(GraphError(100, "The request body is too large."))
        return error_response(GraphError(100, failure.reason, http_status=failure.status))
    if isinstance(failure, ValueError):
        return error_response(GraphError(100, str(failure)))
    log.error("sandbox bug while answering %s %s", request.method, request.path, exc_info=failure)
    unknown = GraphError(1, "An unknown error occurred.", message="(#1) An unknown error occurred")
    return error_response(unknown)


@functools.lru_cache(maxsize=64)  # a client sends the same header with every request
def _bearer_token(header: str) -> str | None:
    match = _BEARER.match(header)
    return match.group(1) if match else None


def _meta_errors(handler: Handler) -> Handler:
    """The control API's handler, every failure answered as Meta's error object."""

    @functools.wraps(handler)  # node_routes.ungated finds the handler again
    async def answer(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except Exception as failure:
            if isinstance(failure, web.HTTPException) and failure.status < 400:
                raise  # redirects and the like are answers, not failures
            return meta_error(request, failure)

    return answer


def graph_gate(config: SandboxConfig, rng: random.Random, tokens: TokenBook) -> Callable[[Handler], Handler]:
    """Wraps a Graph handler: every failure answered as Meta's error object, the bearer-token
    check (any token the sandbox knows, unexpired and not revoked), then the faults. The token
    used is kept on the request (``request[TOKEN]``). A control path (only the catch-all route
    sees one) skips the token and faults (local, never faulted). A wrapper per route rather than
    a middleware: aiohttp runs each middleware, and its own current-app layer with it, as
    another coroutine per request, a tenth of the cost of a send."""
    faults = config.faults
    faulty = fault_middleware(faults, rng)

    def gated(handler: Handler) -> Handler:
        @functools.wraps(handler)  # node_routes.ungated finds the handler again
        async def gate(request: web.Request) -> web.StreamResponse:
            try:
                if request.path.startswith(CONTROL_PREFIX):
                    return await handler(request)
                header = request.headers.get("Authorization", "")
                token = _bearer_token(header) or request.query.get("access_token")
                if not token:
                    raise GraphError(190, message=_NO_TOKEN, with_error_data=False)
                problem = tokens.problem(token)
                if problem is not None:
                    raise problem
                request[routes.TOKEN] = token
                if quiet(faults):
                    faults.traffic.requests += 1
                    return await handler(request)
                return await faulty(request, handler)
            except Exception as failure:
                if isinstance(failure, web.HTTPException) and failure.status < 400:
                    raise  # redirects and the like are answers, not failures
                return meta_error(request, failure)

        return gate

    return gated


async def _no_route(request: web.Request) -> web.StreamResponse:
    raise web.HTTPNotFound()  # answered as Meta's unknown object by the gate


def gate_routes(app: web.Application, gated: Callable[[Handler], Handler]) -> None:
    """Put every route behind its gate, and add the catch-all route (last, so the router tries
    it only when nothing else matches) that answers any other path or method with Meta's
    unknown-object error, after the token check as for any Graph request."""
    app.router.add_route("*", "/{tail:.*}", _no_route, name=node_routes.NO_ROUTE)
    for route in app.router.routes():
        control = route.resource is not None and route.resource.canonical.startswith(CONTROL_PREFIX)
        # aiohttp has no public way to wrap a registered route's handler; its attribute it is.
        route._handler = (_meta_errors if control else gated)(route.handler)  # type: ignore[attr-defined]


def build_app(core: SandboxCore) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)
    app[routes.CORE] = core
    routes.add_routes(app)
    control.add_routes(app)
    routes_users.add_user_routes(app)  # control: business-scoped user ids
    gate_routes(app, graph_gate(core.config, core.rng, core.tokens))

    async def lifecycle(app: web.Application):
        await core.start()
        # Load Meta's spec before the first request rather than during it (about 1 s, once).
        await asyncio.to_thread(conformance.warm_up, core.config)
        yield
        await core.stop()

    app.cleanup_ctx.append(lifecycle)
    return app


def tune_gc_for_serving() -> None:
    """For a process that only serves the sandbox (the command line), once it is up: what is
    loaded by then (Meta's spec, the modules) is left out of every later collection, and
    collections run every 20,000 net allocations instead of 700. Each send leaves records
    behind (message, statuses), so the default threshold ran a collection every few sends,
    about a tenth of the server's CPU; reference counting still frees a request's objects
    as soon as it is answered."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)


#: glibc's ``mallopt`` option for the size from which ``malloc`` maps memory of its own.
_M_MMAP_THRESHOLD = -3
#: Above asyncio's 256 KiB socket reads.
MMAP_THRESHOLD = 1 << 20


def tune_malloc_for_serving() -> bool:
    """For a process that only serves the sandbox: asyncio reads each socket with a 256 KiB
    ``recv``, which glibc's ``malloc`` serves with an ``mmap`` of its own (its threshold is
    128 KiB and rises only when such a block is freed whole, which a bytes object shrunk to
    the few bytes read never is): every request's read was an ``mmap``, a page fault and a
    ``munmap``, about a tenth of the server's CPU. With a 1 MiB threshold the reads come from
    the heap. glibc only (``mallopt``); elsewhere nothing changes and False is returned."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # not glibc; Windows has no CDLL(None)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))


class Server:
    """Runs the app on the current event loop; ``port`` is known after :meth:`start`."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.core = SandboxCore(config)
        self.app = build_app(self.core)
        self._runner: web.AppRunner | None = None
        self.port = config.port

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]
        host = self.config.host if ":" not in self.config.host else f"[{self.config.host}]"
        self.core.public_url = f"http://{host}:{self.port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
