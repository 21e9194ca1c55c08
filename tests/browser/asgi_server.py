"""The browser suite's live server: the test project under uvicorn (ASGI) in a thread of the
test process, with the inbox's WebSocket (Channels, in-memory layer) and the static files.

In the test process, so the sandbox's webhooks, the pages and the sockets share one channel
layer (the in-memory one reaches only its own process) and the test's database. HTTP requests
are answered one at a time, like pytest-django's live server here: the sandbox's webhooks and
the browser's requests never write to SQLite at once. Sockets are not serialized: they stay
open for the whole page."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

from django.conf import settings
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.views import static


class StaticRootFiles(ASGIStaticFilesHandler):
    """Serves ``STATIC_ROOT`` (the test settings have no staticfiles app to find them)."""

    def serve(self, request: Any) -> Any:
        return static.serve(request, self.file_path(request.path), document_root=settings.STATIC_ROOT)


class OneRequestAtATime:
    def __init__(self, application: Any) -> None:
        self.application = application
        self.lock: asyncio.Lock | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.application(scope, receive, send)
            return
        if self.lock is None:  # made in the server's own event loop
            self.lock = asyncio.Lock()
        async with self.lock:
            await self.application(scope, receive, send)


class AsgiLiveServer:
    """``url`` like pytest-django's live server; ``start()`` returns once it listens."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        import uvicorn
        from django.core.asgi import get_asgi_application

        from wacloud_django.inbox.routing import inbox_application

        application = OneRequestAtATime(inbox_application(StaticRootFiles(get_asgi_application())))
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((host, 0))
        self.url = f"http://{host}:{self.socket.getsockname()[1]}"
        config = uvicorn.Config(
            application, ws="wsproto", lifespan="off", log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, name="asgi-live-server", daemon=True
        )

    def start(self, timeout: float = 20) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:  # uvicorn says it listens through an attribute only
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the ASGI live server did not start")
            self.thread.join(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()
