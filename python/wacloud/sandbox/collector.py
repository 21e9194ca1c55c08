"""A webhook receiver for tests: records every POST (headers and exact body) and
answers with scripted statuses, so retries and signatures can be checked."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .sandbox import LoopThread


@dataclass
class ReceivedWebhook:
    headers: dict[str, str]
    body: bytes
    status: int  # what the collector answered

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)

    def signature_valid(self, app_secret: str) -> bool:
        expected = "sha256=" + hmac.new(app_secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.headers.get("X-Hub-Signature-256", ""))


class WebhookCollector:
    """``collector.url`` receives webhooks; ``respond_with(500, 500)`` fails the next two.
    With a ``verify_token`` it also answers Meta's subscription check (``GET`` with
    ``hub.challenge``), as a callback URL must."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, path: str = "/webhook", verify_token: str | None = None
    ) -> None:
        self._host, self._port, self.path = host, port, path
        self.verify_token = verify_token
        self.received: list[ReceivedWebhook] = []
        self._script: deque[int] = deque()
        self._condition = threading.Condition()
        self._thread: LoopThread | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""

    def start(self) -> WebhookCollector:
        self._thread = LoopThread("wacloud-webhook-collector")
        self._thread.run(self._serve())
        return self

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post(self.path, self._receive)
        app.router.add_get(self.path, self._verify)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://{self._host}:{port}{self.path}"

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self._condition:
            status = self._script.popleft() if self._script else 200
            self.received.append(ReceivedWebhook(dict(request.headers), body, status))
            self._condition.notify_all()
        return web.Response(status=status, text="ok" if status < 300 else "failure")

    async def _verify(self, request: web.Request) -> web.Response:
        query = request.query
        if self.verify_token is None or query.get("hub.verify_token") != self.verify_token:
            return web.Response(status=403, text="verify token mismatch")
        return web.Response(text=query.get("hub.challenge", ""))

    def stop(self) -> None:
        if self._thread is not None:
            if self._runner is not None:
                self._thread.run(self._runner.cleanup())
            self._thread.close()
            self._thread = None

    def __enter__(self) -> WebhookCollector:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def respond_with(self, *statuses: int) -> None:
        """Answer the next requests with these statuses (then 200 again)."""
        with self._condition:
            self._script.extend(statuses)

    def clear(self) -> None:
        with self._condition:
            self.received.clear()
            self._script.clear()

    def accepted(self) -> list[ReceivedWebhook]:
        with self._condition:
            return [r for r in self.received if 200 <= r.status < 300]

    def payloads(self) -> list[dict[str, Any]]:
        return [r.payload for r in self.accepted()]

    def wait(self, count: int = 1, timeout: float = 5.0, accepted_only: bool = True) -> list[ReceivedWebhook]:
        """Block until ``count`` webhooks arrived (answered 2xx unless ``accepted_only`` is False)."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                got = [r for r in self.received if not accepted_only or 200 <= r.status < 300]
                if len(got) >= count:
                    return got
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{len(got)} of {count} webhooks arrived within {timeout}s")
                self._condition.wait(remaining)
