"""``Sandbox``: the server on its own event loop in a background thread, with
methods mirroring the control API, for tests and scripts."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from . import control, routes_users
from .config import Faults, SandboxConfig
from .graph_errors import GraphError
from .server import Server

T = TypeVar("T")


class LoopThread:
    """An asyncio loop running in a daemon thread; ``run`` executes a coroutine on it."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coroutine: Awaitable[T], timeout: float | None = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)  # type: ignore[arg-type]

    def call(self, function: Callable[..., T], *args: Any, timeout: float | None = 30.0) -> T:
        async def invoke() -> T:
            return function(*args)

        return self.run(invoke(), timeout)

    def close(self) -> None:
        async def drain() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # Let closing transports run their connection_lost callbacks before the loop stops.
            await asyncio.sleep(0.01)
            await self.loop.shutdown_asyncgens()

        self.run(drain())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class Sandbox:
    """A local stand-in for the Cloud API.

    >>> with Sandbox(access_token="t", phone_number_id="123", waba_id="456") as sandbox:
    ...     client = Client(base_url=sandbox.base_url, ...)

    Keyword arguments are :class:`SandboxConfig` fields (``webhook_url``, ``app_secret``,
    ``messages_per_second``, ``state_file``, ``faults={"error_rate": 0.1}``, ...)."""

    collector: Any = None  # the pytest fixture attaches its WebhookCollector here

    def __init__(self, api_version: str = "v25.0", **options: Any) -> None:
        self.api_version = api_version
        self.config = SandboxConfig(**options)
        self._thread: LoopThread | None = None
        self._server: Server | None = None

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> Sandbox:
        if self._thread is not None:
            return self
        thread = LoopThread("wacloud-sandbox")

        async def boot() -> Server:
            server = Server(self.config)
            await server.start()
            return server

        try:
            self._server = thread.run(boot())
        except BaseException:
            thread.close()
            raise
        self._thread = thread
        return self

    def stop(self) -> None:
        if self._thread is None or self._server is None:
            return
        try:
            self._thread.run(self._server.stop())
        finally:
            self._thread.close()
            self._thread = None
            self._server = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def port(self) -> int:
        return self._require_server().port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: use it where the client expects ``https://graph.facebook.com``."""
        return self._require_server().core.public_url

    @property
    def graph_url(self) -> str:
        return f"{self.base_url}/{self.api_version}"

    def _require_server(self) -> Server:
        if self._server is None:
            raise RuntimeError("the sandbox is not running; call start() or use it as a context manager")
        return self._server

    def _call(self, function: Callable[..., T], *args: Any) -> T:
        assert self._thread is not None
        self._require_server()
        # Copies leave the loop thread, so callers never share dicts the server mutates.
        return self._thread.call(lambda: copy.deepcopy(function(*args)))

    @property
    def _core(self):
        return self._require_server().core

    # -- the control API, as methods ------------------------------------------------------
    def inject_inbound(self, **message: Any) -> dict[str, Any]:
        """A user message, as ``POST /_sandbox/inbound`` takes it:
        ``inject_inbound(**{"from": "15550001111"}, name="Ana", type="text", text="hi")``."""
        return self._call(self._core.inject, message)

    def sent_messages(self, to: str | None = None, type: str | None = None) -> list[dict[str, Any]]:
        def select() -> list[dict[str, Any]]:
            return [
                m
                for m in self._core.state.messages.values()
                if to in (None, m["wa_id"], m["to"]) and type in (None, m["type"])
            ]

        return self._call(select)

    def message(self, wamid: str) -> dict[str, Any] | None:
        return self._call(lambda: self._core.state.messages.get(wamid))

    def inbound_messages(self) -> list[dict[str, Any]]:
        return self._call(lambda: list(self._core.state.inbound.values()))

    def conversations(self) -> list[dict[str, Any]]:
        return self._call(lambda: list(self._core.state.conversations.values()))

    def templates(self) -> list[dict[str, Any]]:
        return self._call(lambda: [control._public(t) for t in self._core.ordered_templates()])

    def webhooks(self, kind: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        """Deliveries with ``status``, ``attempts``, ``responses``, raw ``body`` and parsed ``payload``."""
        return self._call(
            lambda: [control.delivery_view(r) for r in control.select_deliveries(self._core, kind, status)]
        )

    def wait_for_webhooks(
        self, count: int = 1, kind: str | None = None, status: str | None = "delivered", timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        """Block until ``count`` deliveries of ``kind`` (a prefix such as ``"status.read"`` or
        ``"message"``) reached ``status``; raises TimeoutError otherwise."""
        assert self._thread is not None
        request = {"count": count, "kind": kind, "status": status, "timeout": timeout}
        try:
            found = self._thread.run(control.wait_deliveries(self._core, request), timeout + 5)
        except GraphError as error:
            raise TimeoutError(error.details) from None
        return self._call(lambda: [control.delivery_view(r) for r in found])

    def set_faults(self, **knobs: float) -> dict[str, Any]:
        return self._call(control.set_faults, self._core, knobs)

    def clear_faults(self) -> dict[str, Any]:
        return self._call(control.set_faults, self._core, Faults().as_dict())

    def graph_requests(self) -> int:
        """Graph requests answered since the sandbox started, faulted or not (the control API
        is not counted); compare two readings to count what a test sent."""
        return self._call(lambda: self._core.config.faults.traffic.requests)

    def set_template_status(
        self,
        name_or_id: str,
        event: str,
        reason: str | None = None,
        language: str | None = None,
        rejection_info: dict[str, str] | None = None,
        other_info: dict[str, str] | None = None,
        disable_info: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        body = {
            "event": event,
            "reason": reason,
            "language": language,
            "rejection_info": rejection_info,
            "other_info": other_info,
            "disable_info": disable_info,
        }
        return self._call(control.set_template_status, self._core, name_or_id, body)

    def reject_template(
        self, name_or_id: str, reason: str = "INVALID_FORMAT", language: str | None = None
    ) -> dict[str, Any]:
        return self.set_template_status(name_or_id, "REJECTED", reason, language)

    def mark_undeliverable(self, wa_id: str, undeliverable: bool = True) -> dict[str, Any]:
        return self._call(control.set_recipient, self._core, wa_id, {"undeliverable": undeliverable})

    def number(self) -> dict[str, Any]:
        """The business number's account side: ``registered``, ``verified``, ``pin``,
        ``pending_code`` (the verification code "sent" by SMS or voice), ``subscribed``,
        ``override_callback_uri``, ``blocked``, ``qr_codes`` and ``commerce``."""
        from .routes_account import number_state

        return self._call(number_state, self._core)

    def set_number(self, **fields: Any) -> dict[str, Any]:
        """Set ``registered``, ``verified`` or ``pin``: ``set_number(registered=False,
        verified=False)`` plays a number that is not onboarded yet."""
        from .routes_account import set_number

        return self._call(set_number, self._core, fields)

    def user(self, key: str) -> dict[str, Any]:
        """A user's business-scoped ids (``user_id``, ``parent_user_id`` for managed
        businesses) and ``number_hidden``; ``key`` is a number or an id they hold now."""
        return self._call(routes_users.user, self._core, key)

    def hide_number(self, key: str, hidden: bool = True) -> dict[str, Any]:
        """The user hides their number (a username): webhooks name them by id only, and
        sends by id are answered and reported without the number."""
        return self._call(routes_users.set_user, self._core, key, {"number_hidden": hidden})

    def change_user_id(self, key: str) -> dict[str, Any]:
        """Give the user new business-scoped ids (the old ones reach nobody) and emit
        Meta's ``user_id_update`` webhook; returns the new ids and ``previous_user_id``."""
        return self._call(routes_users.change_user_id, self._core, key)

    def flows(self) -> list[dict[str, Any]]:
        """Every Flow of the WABA: status, Flow JSON, validation errors, endpoint calls."""
        return self._call(lambda: [f for f in self._core.state.flows.values()])

    def call_flow_endpoint(self, url: str | None = None, **request: Any) -> dict[str, Any]:
        """Call a Flow's endpoint as WhatsApp does (``POST /_sandbox/flows/endpoint``):
        ``action`` (``ping``, ``INIT``, ``data_exchange``, ``BACK``), ``flow_token``,
        ``screen``, ``data`` (``error``/``error_message`` for an error notification),
        ``flow_id`` (its ``endpoint_uri`` when no ``url``; the call counts in its metrics).
        Returns ``status``, the decrypted ``response`` and the clear ``request``."""
        from .flow_endpoint import call_endpoint

        assert self._thread is not None
        body = {**request, **({"url": url} if url else {})}
        return copy.deepcopy(self._thread.run(call_endpoint(self._core, body), timeout=60))

    def complete_flow(self, wamid: str, **response: Any) -> dict[str, Any]:
        """The user completes the Flow message ``wamid``: its ``nfm_reply`` webhook, with
        ``response`` and the message's ``flow_token`` in ``response_json``."""
        from .flows import completion

        return self._call(lambda: self._core.inject(completion(self._core.state, wamid, response)))

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        return self._call(control.advance_clock, self._core, {"advance_seconds": seconds})

    def add_token(self, token: str, **options: Any) -> dict[str, Any]:
        """Accept ``token`` too, or change a known one: ``expires_in`` (seconds on the sandbox
        clock), ``expires_at``, ``scopes``, ``waba_ids``, ``granular_scopes``, ``type``, ``valid``
        (false: revoked). ``debug_token`` answers from these; :meth:`reset` forgets them."""
        return self._call(control.register_token, self._core, {"token": token, **options})

    def tokens(self) -> list[dict[str, Any]]:
        """Every known token: ``fingerprint`` (see :func:`token_fingerprint`), expiry, scopes, ``usable``."""
        return self._call(self._core.tokens.views)

    @staticmethod
    def token_fingerprint(token: str) -> str:
        """What sent messages record as ``token_fingerprint`` for the token they were sent with."""
        from .tokens import fingerprint

        return fingerprint(token)

    def reset(self) -> None:
        self._call(self._core.reset)

    def save(self) -> None:
        def save_now() -> None:
            self._core.state.dirty = True
            self._core.save()

        self._call(save_now)

    def media_bytes(self, media_id: str) -> bytes | None:
        return self._call(lambda: self._core.state.media_bytes.get(media_id))

    def sign(self, body: bytes) -> str:
        """The ``X-Hub-Signature-256`` this sandbox puts on ``body``."""
        return "sha256=" + hmac.new(self.config.app_secret.encode(), body, hashlib.sha256).hexdigest()
