"""Graph request faults, applied by the gate around each Graph route (server.graph_gate) to
authenticated Graph requests (the control API is never faulted). Webhook faults live in the
emitter."""

from __future__ import annotations

import asyncio
import random

from aiohttp import web
from aiohttp.typedefs import Handler

from .config import Faults
from .graph_errors import GraphError


def quiet(faults: Faults) -> bool:
    """No Graph request fault is set: requests can go straight to their handler."""
    return not (
        faults.latency_ms
        or faults.latency_jitter_ms
        or faults.rate_limit_next > 0
        or faults.send_error_next > 0
        or faults.error_rate
        or faults.timeout_next > 0
    )


def fault_middleware(faults: Faults, rng: random.Random):
    async def inject_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
        faults.traffic.requests += 1
        if faults.latency_ms or faults.latency_jitter_ms:
            await asyncio.sleep((faults.latency_ms + rng.random() * faults.latency_jitter_ms) / 1000)
        if faults.rate_limit_next > 0:
            faults.rate_limit_next -= 1
            raise GraphError(130429)
        if faults.send_error_next > 0 and request.method == "POST" and request.path.endswith("/messages"):
            faults.send_error_next -= 1
            raise GraphError(faults.send_error_code)
        if faults.error_rate and rng.random() < faults.error_rate:
            # Meta's transient failures: an internal error or an overloaded service.
            if rng.random() < 0.5:
                raise GraphError(131000)
            raise GraphError(2, message="(#2) Service temporarily unavailable")
        response = await handler(request)
        if faults.timeout_next > 0:
            # The request took effect; only the answer is held back, as when a client times out.
            faults.timeout_next -= 1
            await asyncio.sleep(faults.timeout_seconds)
        return response

    return inject_faults
