"""Graph request faults, applied as middleware to authenticated Graph requests
(the control API is never faulted). Webhook faults live in the emitter."""

from __future__ import annotations

import asyncio
import random

from aiohttp import web
from aiohttp.typedefs import Handler

from .config import Faults
from .graph_errors import GraphError


def fault_middleware(faults: Faults, rng: random.Random):
    async def inject_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
        if faults.latency_ms or faults.latency_jitter_ms:
            await asyncio.sleep((faults.latency_ms + rng.random() * faults.latency_jitter_ms) / 1000)
        if faults.rate_limit_next > 0:
            faults.rate_limit_next -= 1
            raise GraphError(130429)
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
