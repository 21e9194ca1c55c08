"""A local stand-in for graph.facebook.com used by the client tests: a threaded
HTTP/1.1 server (keep-alive) that records every request and answers from
scripted replies, falling back to Meta's success shapes."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Reply:
    """One scripted answer. ``action`` "hang" reads the request and never
    answers (until the stub stops); "close" reads it and drops the connection."""

    status: int = 200
    body: Any = None  # dict/list -> JSON, bytes/str -> sent as is
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    action: str = "reply"


@dataclass
class RecordedRequest:
    method: str
    path: str  # with the query
    headers: dict[str, str]  # names lowercased
    body: bytes
    at: float

    @property
    def route(self) -> str:
        return urlsplit(self.path).path

    @property
    def query(self) -> str:
        return urlsplit(self.path).query

    def json(self) -> Any:
        return json.loads(self.body)


def graph_error(code: int, message: str = "error", subcode: int | None = None, **extra: Any) -> dict:
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEf123",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    error.update(extra)
    return {"error": error}


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default backlog of 5 drops bursts of connects
    daemon_threads = True


class GraphStub:
    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.connections = 0
        self.max_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._scripts: dict[tuple[str, str], deque[Reply]] = {}
        self._routes: dict[tuple[str, str], Callable[[RecordedRequest], Reply]] = {}
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with stub._lock:
                    stub.connections += 1

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = RecordedRequest(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    time.monotonic(),
                )
                with stub._lock:
                    stub.requests.append(request)
                    stub._in_flight += 1
                    stub.max_in_flight = max(stub.max_in_flight, stub._in_flight)
                try:
                    reply = stub._reply_for(request)
                    if reply.delay:
                        time.sleep(reply.delay)
                    if reply.action == "hang":
                        stub._stopping.wait(30)
                        self.close_connection = True
                        return
                    if reply.action == "close":
                        self.close_connection = True
                        return
                    self._send(reply)
                finally:
                    with stub._lock:
                        stub._in_flight -= 1

            def _send(self, reply: Reply) -> None:
                body = reply.body
                if isinstance(body, (dict, list)):
                    data = json.dumps(body).encode()
                    content_type = "application/json"
                elif isinstance(body, str):
                    data, content_type = body.encode(), "text/plain"
                else:
                    data, content_type = body or b"", "application/octet-stream"
                self.send_response(reply.status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _handle

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> GraphStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def script(self, method: str, route: str, *replies: Reply) -> None:
        """Answer the next requests to ``route`` (path without query) with ``replies``, in order."""
        self._scripts.setdefault((method, route), deque()).extend(replies)

    def route(self, method: str, route: str, handler: Callable[[RecordedRequest], Reply]) -> None:
        """Answer every request to ``route`` (once its script is used up) with ``handler``."""
        self._routes[(method, route)] = handler

    def requests_to(self, route: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.route == route]

    def _reply_for(self, request: RecordedRequest) -> Reply:
        key = (request.method, request.route)
        with self._lock:
            script = self._scripts.get(key)
            if script:
                return script.popleft()
        handler = self._routes.get(key)
        if handler is not None:
            return handler(request)
        if request.method == "POST" and request.route.endswith("/messages"):
            return self.send_success(request)
        return Reply(404, graph_error(100, "Unsupported request: no such object", subcode=33))

    def send_success(self, request: RecordedRequest) -> Reply:
        """Meta's answer to an accepted send."""
        payload = request.json()
        if payload.get("status") == "read":
            return Reply(200, {"success": True})
        to = payload.get("to", "")
        message = {"id": f"wamid.TEST{next(self._ids):06d}"}
        if payload.get("type") == "template":
            message["message_status"] = "accepted"
        return Reply(
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [message],
            },
        )
