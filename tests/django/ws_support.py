"""A small blocking WebSocket client for tests that talk to a real ASGI server (the demo's
uvicorn): wsproto's sans-I/O protocol over a plain socket, with the session cookie and
``Origin`` a browser would send."""

from __future__ import annotations

import json
import socket
import time
from typing import Any
from urllib.parse import urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Message,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)


class SocketRefused(ConnectionError):
    """The server closed or refused the socket; ``code`` is its close code or HTTP status."""

    def __init__(self, code: int) -> None:
        super().__init__(f"socket refused or closed with code {code}")
        self.code = code


class WebSocketClient:
    def __init__(self, url: str, *, cookie: str = "", origin: str = "", timeout: float = 10) -> None:
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        self.ws = WSConnection(ConnectionType.CLIENT)
        headers = [(b"cookie", cookie.encode())] if cookie else []
        if origin:
            headers.append((b"origin", origin.encode()))
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        self.sock.sendall(self.ws.send(Request(host=parts.netloc, target=target, extra_headers=headers)))
        self._pending: list[Any] = []
        self._text = ""
        deadline = time.monotonic() + timeout
        try:
            while True:
                event = self._next_event(deadline)
                if isinstance(event, AcceptConnection):
                    return
                if isinstance(event, RejectConnection):
                    raise SocketRefused(event.status_code)
                if isinstance(event, CloseConnection):
                    raise SocketRefused(event.code)
        except BaseException:
            self.sock.close()
            raise

    def _next_event(self, deadline: float) -> Any:
        while not self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("nothing received from the socket in time")
            self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                raise SocketRefused(1006)
            self.ws.receive_data(data)
            self._pending.extend(self.ws.events())
        return self._pending.pop(0)

    def receive_json(self, timeout: float = 10) -> dict[str, Any]:
        """The next JSON message; a close from the server raises :class:`SocketRefused`."""
        deadline = time.monotonic() + timeout
        while True:
            event = self._next_event(deadline)
            if isinstance(event, Ping):
                self.sock.sendall(self.ws.send(event.response()))
            elif isinstance(event, CloseConnection):
                raise SocketRefused(event.code)
            elif isinstance(event, TextMessage):
                self._text += event.data
                if event.message_finished:
                    text, self._text = self._text, ""
                    return json.loads(text)
            elif isinstance(event, Message):
                continue

    def close(self) -> None:
        try:
            self.sock.sendall(self.ws.send(CloseConnection(code=1000)))
        except Exception:  # the server may be gone already
            pass
        self.sock.close()
