"""The aiohttp application: Graph routes behind bearer-token auth and faults,
the control API, and Meta-shaped answers for every failure.

aiohttp serves thousands of keep-alive requests per second on one core from one
asyncio loop, which also runs the webhook worker and the status timers, so no
threads or locks are needed around the state."""

from __future__ import annotations

import hmac
import logging
import random
import re

from aiohttp import web
from aiohttp.typedefs import Handler

from . import control, routes
from .config import SandboxConfig
from .core import SandboxCore
from .faults import fault_middleware
from .graph_errors import GraphError, unknown_object

log = logging.getLogger("wacloud.sandbox")

CONTROL_PREFIX = "/_sandbox"
MAX_BODY = 101 << 20  # documents may be 100 MB
_BEARER = re.compile(r"^\s*(?:Bearer|OAuth)\s+(\S+)\s*$", re.IGNORECASE)


def error_response(error: GraphError) -> web.Response:
    response = routes.json_response(error.body(), status=error.http_status)
    response.headers.update(error.headers())
    return response


@web.middleware
async def meta_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure leaves as Meta's error object: never an HTML page or a traceback."""
    try:
        return await handler(request)
    except GraphError as error:
        return error_response(error)
    except web.HTTPException as exception:
        if exception.status in (404, 405):
            last = request.path.rstrip("/").rsplit("/", 1)[-1] or "/"
            return error_response(unknown_object(last, request.method))
        if exception.status == 413:
            return error_response(GraphError(100, "The request body is too large."))
        if exception.status < 400:
            raise
        return error_response(GraphError(100, exception.reason, http_status=exception.status))
    except ValueError as error:
        return error_response(GraphError(100, str(error)))
    except Exception:
        log.exception("sandbox bug while answering %s %s", request.method, request.path)
        return error_response(
            GraphError(1, "An unknown error occurred.", message="(#1) An unknown error occurred")
        )


def graph_gate(config: SandboxConfig, rng: random.Random):  # aiohttp middleware
    """Bearer-token check, then the faults; one middleware so the hot path stays short.
    The control API passes straight through (local, never faulted)."""
    expected = config.access_token.encode()
    faulty = fault_middleware(config.faults, rng)

    @web.middleware
    async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(CONTROL_PREFIX):
            return await handler(request)
        match = _BEARER.match(request.headers.get("Authorization", ""))
        token = match.group(1) if match else request.query.get("access_token")
        if not token:
            raise GraphError(
                190,
                message="An active access token must be used to query information about the current user.",
                with_error_data=False,
            )
        if not hmac.compare_digest(token.encode(), expected):
            raise GraphError(
                190, message="Invalid OAuth access token - Cannot parse access token", with_error_data=False
            )
        return await faulty(request, handler)

    return gate


def build_app(core: SandboxCore) -> web.Application:
    app = web.Application(
        middlewares=[
            meta_errors,
            graph_gate(core.config, core.rng),
        ],
        client_max_size=MAX_BODY,
    )
    app[routes.CORE] = core
    routes.add_routes(app)
    control.add_routes(app)

    async def lifecycle(app: web.Application):
        await core.start()
        yield
        await core.stop()

    app.cleanup_ctx.append(lifecycle)
    return app


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
