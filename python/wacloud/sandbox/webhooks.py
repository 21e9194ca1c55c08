"""Webhook delivery: a queue drained by one worker, Meta-like retries, and the
delivery faults (drop, duplicate, reorder).

Deliveries happen off the request path: handlers only append to a queue. A
receiver that does not answer 200 (Meta takes no other status as success) is
retried with decreasing frequency (base, doubling, capped) for up to
``webhook_retry_window`` (Meta's 7 days), or until ``webhook_max_attempts`` when
one is set; other deliveries keep flowing meanwhile, as with Meta. Retry times are
on the sandbox clock, so moving it (``advance_clock``) brings them forward."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
from collections.abc import Callable
from typing import Any

import aiohttp

from . import account
from .config import SandboxConfig
from .state import State

PENDING_STATUSES = ("pending", "retrying")


class WebhookEmitter:
    def __init__(self, config: SandboxConfig, state: State, rng: random.Random) -> None:
        self.config = config
        self.state = state
        self.rng = rng
        self._queue: asyncio.Queue[str] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._worker: asyncio.Task[None] | None = None
        self._timers: set[asyncio.TimerHandle] = set()
        self._progress: asyncio.Event | None = None

    @property
    def enabled(self) -> bool:
        # Nothing is delivered once the app unsubscribed from the account (sandbox/account.py).
        return bool(account.delivery_url(self.state, self.config))

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._progress = asyncio.Event()
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.config.webhook_timeout),
            connector=aiohttp.TCPConnector(limit=8),
        )
        self._worker = asyncio.create_task(self._run())
        # Deliveries still owed from a previous run (state file) are resumed, like Meta does.
        for record in self.state.deliveries.values():
            if record["status"] in PENDING_STATUSES:
                record["status"] = "pending"
                self._queue.put_nowait(record["id"])

    async def stop(self) -> None:
        self.cancel_timers()
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def cancel_timers(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    def clear(self) -> None:
        """Forget queued work (after a state reset)."""
        self.cancel_timers()
        if self._queue is not None:
            while not self._queue.empty():
                self._queue.get_nowait()
        self._notify()

    # -- emitting -----------------------------------------------------------------
    def emit(self, kind: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """Queue ``body`` for the configured URL; returns the delivery record (None without a URL)."""
        if not self.enabled or self._queue is None:
            return None
        state = self.state
        faults = self.config.faults
        record: dict[str, Any] = {
            "id": f"dlv.{state.next_sequence()}",
            "kind": kind,
            "url": account.delivery_url(self.state, self.config),  # an override callback URI wins
            "body": json.dumps(body, separators=(",", ":"), ensure_ascii=False),
            "status": "pending",
            "attempts": 0,
            "failures": 0,
            "copies": 1,
            "responses": [],
            "created_at": state.now(),
            "delivered_at": None,
            "next_attempt_at": None,
        }
        state.deliveries[record["id"]] = record
        state.dirty = True
        if faults.webhook_drop_rate and self.rng.random() < faults.webhook_drop_rate:
            record["status"] = "dropped"
            self._notify()
            return record
        if faults.webhook_duplicate_rate and self.rng.random() < faults.webhook_duplicate_rate:
            record["copies"] = 2
        self._queue.put_nowait(record["id"])
        return record

    def sign(self, body: bytes) -> dict[str, str]:
        secret = self.config.app_secret.encode()
        return {
            "X-Hub-Signature-256": "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest(),
            "X-Hub-Signature": "sha1=" + hmac.new(secret, body, hashlib.sha1).hexdigest(),
        }

    # -- the worker -----------------------------------------------------------------
    async def _run(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            window = self.config.faults.webhook_reorder_window
            if window > 1:
                deadline = loop.time() + self.config.faults.webhook_reorder_hold
                while len(batch) < window:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                    except TimeoutError:
                        break
                batch.reverse()
            for delivery_id in batch:
                await self._attempt(delivery_id)

    async def _attempt(self, delivery_id: str) -> None:
        record = self.state.deliveries.get(delivery_id)
        if record is None or record["status"] not in PENDING_STATUSES or self._session is None:
            return
        body = record["body"].encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "facebookexternalua",
            **self.sign(body),
        }
        delivered = True
        for _copy in range(record["copies"]):
            record["attempts"] += 1
            try:
                async with self._session.post(record["url"], data=body, headers=headers) as response:
                    await response.read()
                    outcome: int | str = response.status
                    delivered = response.status == 200
            except (aiohttp.ClientError, TimeoutError, OSError) as error:
                outcome = f"{type(error).__name__}: {error}".rstrip(": ")
                delivered = False
            record["responses"].append(outcome)
            if not delivered:
                break
        if delivered:
            record["status"] = "delivered"
            record["delivered_at"] = self.state.now()
            record["next_attempt_at"] = None
        else:
            record["failures"] += 1
            config = self.config
            delay = min(config.webhook_retry_base * 2 ** (record["failures"] - 1), config.webhook_retry_max)
            next_attempt = self.state.now() + delay
            out_of_tries = config.webhook_max_attempts is not None and (
                record["failures"] >= config.webhook_max_attempts
            )
            if out_of_tries or next_attempt > record["created_at"] + config.webhook_retry_window:
                record["status"] = "failed"
                record["next_attempt_at"] = None
            else:
                record["status"] = "retrying"
                record["next_attempt_at"] = next_attempt
                self._later(delay, delivery_id)
        self.state.dirty = True
        self._notify()

    def clock_moved(self) -> None:
        """The sandbox clock jumped: re-arm every pending retry from its sandbox-time due date,
        so those now due go at once."""
        self.cancel_timers()
        if self._queue is None:
            return
        now = self.state.now()
        for record in self.state.deliveries.values():
            if record["status"] == "retrying" and record["next_attempt_at"] is not None:
                self._later(max(record["next_attempt_at"] - now, 0.0), record["id"])

    def _later(self, delay: float, delivery_id: str) -> None:
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def requeue() -> None:
            self._timers.discard(handle)
            if self._queue is not None:
                self._queue.put_nowait(delivery_id)

        handle = loop.call_later(delay, requeue)
        self._timers.add(handle)

    # -- waiting (tests) ------------------------------------------------------------
    def _notify(self) -> None:
        if self._progress is not None:
            self._progress.set()
            self._progress = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``predicate()`` holds after some delivery progressed; False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0 or self._progress is None:
                return False
            try:
                await asyncio.wait_for(self._progress.wait(), remaining)
            except TimeoutError:
                return predicate()
        return True
