"""The sandbox's behaviour behind both the Graph routes and the control API:
accepting sends, the 24-hour window and conversations, rate limits, status
progression, media, template review and inbound injection.

All of it runs on the server's event loop thread."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
import secrets
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from . import inbound, payloads, templates, users
from .config import SandboxConfig
from .graph_errors import GraphError, invalid_parameter
from .messages import OutboundMessage
from .state import State
from .tokens import TokenBook
from .webhooks import WebhookEmitter

log = logging.getLogger("wacloud.sandbox")

WINDOW_SECONDS = 24 * 3600
# A user who writes after tapping a click-to-WhatsApp ad or a Page call-to-action opens a free
# entry point window: everything the business sends in the next 72 hours is free.
ENTRY_POINT_SECONDS = 72 * 3600
# Meta's media lifetimes: a download URL works for 5 minutes; an uploaded media id for 30 days;
# the id of media a user sent (from a webhook) for 7 days.
MEDIA_URL_SECONDS = 5 * 60
UPLOADED_MEDIA_SECONDS = 30 * 24 * 3600
INBOUND_MEDIA_SECONDS = 7 * 24 * 3600
STAGES = ("sent", "delivered", "read")
# Every ``event`` of Meta's message_template_status_update webhook, with the template status it
# leaves behind (None: the status does not change; a flagged or locked template stays usable).
TEMPLATE_EVENT_STATUS: dict[str, str | None] = {
    "APPROVED": "APPROVED",
    "REJECTED": "REJECTED",
    "PAUSED": "PAUSED",
    "DISABLED": "DISABLED",
    "ARCHIVED": "ARCHIVED",
    "UNARCHIVED": "APPROVED",
    "DELETED": "DELETED",
    "FLAGGED": None,
    "IN_APPEAL": "IN_APPEAL",
    "LIMIT_EXCEEDED": "LIMIT_EXCEEDED",
    "LOCKED": None,
    "PENDING": "PENDING",
    "REINSTATED": "APPROVED",
    "PENDING_DELETION": "PENDING_DELETION",
}
TEMPLATE_EVENTS = tuple(TEMPLATE_EVENT_STATUS)


class TokenBucket:
    """``rate`` tokens per second, at most ``capacity`` saved up."""

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.updated = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class SandboxCore:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.state = State()
        if config.state_file:
            self.state.load(config.state_file)
        self.rng = random.Random(config.seed)
        self.tokens = TokenBook(config, self.state.now)
        self.emitter = WebhookEmitter(config, self.state, self.rng)
        self.public_url = f"http://{config.host}:{config.port}"
        # Per status stage, (due, message records) in time order; one timer drains them
        # (statuses below).
        self._stages: tuple[deque[tuple[float, Sequence[dict[str, Any]]]], ...] = (deque(), deque(), deque())
        self._loop: asyncio.AbstractEventLoop | None = None
        self._status_timer: asyncio.TimerHandle | None = None
        self._status_due = 0.0
        self._timers: set[asyncio.TimerHandle] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._throughput: TokenBucket | None = None
        self._pairs: dict[str, TokenBucket] = {}
        self.reset_limits()

    # -- lifecycle ------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.emitter.start()
        self._schedule_statuses()  # sends accepted before the start
        if self.config.state_file:
            self._tasks.append(asyncio.create_task(self._save_periodically()))
        for template in self.state.templates.values():
            if template["status"] == "PENDING":
                self._schedule_review(template["id"])

    async def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._status_timer is not None:
            self._status_timer.cancel()
        self._loop = self._status_timer = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.emitter.stop()
        self.save()

    def save(self) -> None:
        if self.config.state_file and self.state.dirty:
            self.state.save(self.config.state_file)

    async def _save_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.config.state_save_interval)
            try:
                self.save()
            except OSError:
                log.exception("could not save sandbox state to %s", self.config.state_file)

    def call_later(self, delay: float, callback: Callable[..., None], *args: Any) -> None:
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            callback(*args)

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    def reset(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        for stage in self._stages:
            stage.clear()
        self.state.reset()
        self.tokens.reset()
        self.emitter.clear()
        self.reset_limits()

    def reset_limits(self) -> None:
        config = self.config
        rate = config.messages_per_second
        self._throughput = TokenBucket(rate, max(rate, 1.0)) if rate else None
        self._pairs.clear()

    # -- sending --------------------------------------------------------------------
    # ``now``: the sandbox clock, when the caller has read it already (a send reads it once).
    def window_open(self, wa_id: str, now: float | None = None) -> bool:
        last = self.state.windows.get(wa_id)
        if last is None:
            return False
        return (self.state.now() if now is None else now) - last < WINDOW_SECONDS

    def entry_point_open(self, wa_id: str, now: float | None = None) -> bool:
        opened = self.state.entry_points.get(wa_id)
        if opened is None:
            return False
        return (self.state.now() if now is None else now) - opened < ENTRY_POINT_SECONDS

    def pricing(self, wa_id: str, category: str, now: float | None = None) -> dict[str, Any]:
        """Meta's per-message pricing (PMP, since 2025-07-01) of one message: free inside a
        free entry point window; service messages and utility templates free inside the
        customer service window; everything else billed at its template category's rate."""
        if self.entry_point_open(wa_id, now):
            return {
                "billable": False,
                "pricing_model": "PMP",
                "category": "referral_conversion",
                "type": "free_entry_point",
            }
        free = category == "service" or (category == "utility" and self.window_open(wa_id, now))
        return {
            "billable": not free,
            "pricing_model": "PMP",
            "category": category,
            "type": "free_customer_service" if free else "regular",
        }

    def _conversation(self, wa_id: str, category: str, now: float) -> dict[str, Any]:
        state = self.state
        key = (wa_id, category)
        existing = state.conversations.get(state.open_conversations.get(key, ""))
        if existing is not None and existing["expiration"] > now:
            return existing
        conversation = {
            "id": secrets.token_hex(16),
            "wa_id": wa_id,
            "category": category,
            "opened_at": now,
            "expiration": now + WINDOW_SECONDS,
        }
        state.conversations[conversation["id"]] = conversation
        state.open_conversations[key] = conversation["id"]
        return conversation

    def accept(
        self, message: OutboundMessage, api_version: str = "v23.0", token_fingerprint: str | None = None
    ) -> dict[str, Any]:
        """Accept a validated send, or raise the error Meta would answer with; the answer."""
        record = self.record_send(message, api_version, token_fingerprint)
        return self.send_answer(message, record["id"])

    def send_answer(self, message: OutboundMessage, wamid: str) -> dict[str, Any]:
        """Meta's answer to an accepted send."""
        answered: dict[str, Any] = {"id": wamid}
        if message.type == "template":
            answered["message_status"] = "accepted"  # Meta tells it for template sends only
        return {
            "messaging_product": "whatsapp",
            "contacts": [users.answer_contact(self.state, message)],
            "messages": [answered],
        }

    def record_send(
        self, message: OutboundMessage, api_version: str = "v23.0", token_fingerprint: str | None = None
    ) -> dict[str, Any]:
        """Accept a validated send, or raise the error Meta would answer with; the message's
        record. ``api_version`` is the path's version: the status webhooks take their shape
        from it. The record keeps ``token_fingerprint``, when given: which token sent it
        (rotation tests check that)."""
        state = self.state
        now = state.now()
        if message.user_id is not None:
            users.address_outbound(state, message)  # a send by business-scoped user id
        category = "service"
        if message.type == "template":
            assert message.template_name is not None and message.template_language is not None
            template = self.find_template(message.template_name, message.template_language)
            templates.check_send(
                template, message.template_name, message.template_language, message.template_components
            )
            assert template is not None
            category = template["category"].lower()
        failure: tuple[int, str | None] | None = None
        # A user nobody holds the id of has no window: their message fails with 131026 below.
        if message.free_form and not message.unknown_user and not self.window_open(message.wa_id, now):
            if self.config.window_errors == "sync":
                raise GraphError(131047)
            failure = (131047, None)
        if self._throughput is not None and not self._throughput.take():
            raise GraphError(130429)  # inbound messages spend the same budget (see inject)
        if self.config.pair_rate_per_second:
            bucket = self._pairs.get(message.wa_id)
            if bucket is None:
                bucket = self._pairs[message.wa_id] = TokenBucket(
                    self.config.pair_rate_per_second, self.config.pair_burst
                )
            if not bucket.take():
                raise GraphError(131056)
        if failure is None and (message.unknown_user or message.wa_id in state.undeliverable):
            failure = (131026, None)
        pricing = self.pricing(message.wa_id, category, now)
        category = pricing["category"]
        wamid = state.new_wamid(message.wa_id)
        record: dict[str, Any] = {
            "id": wamid,
            "to": message.to,
            "wa_id": message.wa_id,
            "type": message.type,
            "payload": message.payload,
            "status": "accepted",
            "statuses": [{"status": "accepted", "timestamp": int(now)}],
            "created_at": now,
            "context_id": message.context_id,
            "callback_data": message.callback_data,
            "user_id": message.user_id,
            "unknown_user": message.unknown_user,
            "conversation_id": None if failure else self._conversation(message.wa_id, category, now)["id"],
            "category": category,
            "pricing": pricing,
            "api_version": api_version,
            "error": None,
            "pending_error": list(failure) if failure else None,
        }
        if token_fingerprint:
            record["token_fingerprint"] = token_fingerprint
        state.messages[wamid] = record
        state.dirty = True
        self._push_stage(0, self.config.sent_after, record)
        return record

    def mark_read(self, message_id: str) -> dict[str, Any]:
        received = self.state.inbound.get(message_id)
        if received is None:
            raise invalid_parameter(
                f"Invalid message_id: {message_id} is not a message this number received."
            )
        # Marking one message read marks the earlier ones of that thread too.
        for other in self.state.inbound.values():
            if other["from"] == received["from"] and other["timestamp"] <= received["timestamp"]:
                other["read"] = True
        self.state.dirty = True
        return {"success": True}

    # -- status progression -----------------------------------------------------------
    # Each stage has a fixed delay, so its queue is in time order. One timer drains the three
    # queues and the messages that came due together advance as one batch: a send costs a
    # deque append, a status a few dict operations (no task or timer per message). The queues
    # hold the records themselves, not their ids: a record leaves ``state.messages`` only when
    # the state is reset, and that empties the queues too.
    def _push_stage(self, stage: int, delay: float, message: dict[str, Any]) -> None:
        due = time.monotonic() + delay
        self._stages[stage].append((due, (message,)))
        if self._status_timer is None or due < self._status_due:
            self._schedule_statuses()

    def _schedule_statuses(self) -> None:
        """Fire at the earliest due batch; at least 2 ms on, so that sends arriving together
        share a wake-up."""
        if self._status_timer is not None:
            self._status_timer.cancel()
            self._status_timer = None
        heads = [queue[0][0] for queue in self._stages if queue]
        if self._loop is None or not heads:
            return
        now = time.monotonic()
        delay = max(min(heads) - now, 0.002)
        self._status_due = now + delay
        self._status_timer = self._loop.call_later(delay, self._advance_statuses)

    def _advance_statuses(self) -> None:
        self._status_timer = None
        now = time.monotonic()
        try:
            for stage, queue in enumerate(self._stages):
                due: list[dict[str, Any]] = []
                while queue and queue[0][0] <= now:
                    due.extend(queue.popleft()[1])
                if due:
                    self._advance(stage, due)
        finally:
            self._schedule_statuses()

    def _advance(self, stage: int, messages: list[dict[str, Any]]) -> None:
        """Move a batch of messages to the stage's status; those that moved go on to the next."""
        state, config = self.state, self.config
        status = STAGES[stage]
        timestamp = int(state.now())
        webhooks = self.emitter.enabled
        moved: list[dict[str, Any]] = []
        for message in messages:
            try:
                if message["status"] == "failed":
                    continue
                if stage == 0 and message["pending_error"]:
                    code, details = message["pending_error"]
                    self.set_status(message, "failed", error=(code, details))
                    continue
                if webhooks:
                    self.set_status(message, status, timestamp=timestamp)
                else:  # set_status without a webhook to send, inlined: three per send
                    message["status"] = status
                    message["statuses"].append({"status": status, "timestamp": timestamp})
                moved.append(message)
            except Exception:  # one bad record must not stop every later status
                log.exception("status update for %s failed", message.get("id"))
        state.dirty = True
        if stage == 0:
            delay = config.delivered_after - config.sent_after
        elif stage == 1 and config.read_receipts:
            delay = config.read_after - config.delivered_after
        else:
            return
        if moved:
            self._stages[stage + 1].append((time.monotonic() + max(delay, 0), moved))

    def set_status(
        self,
        message: dict[str, Any],
        status: str,
        error: tuple[int, str | None] | None = None,
        timestamp: int | None = None,
    ) -> None:
        if timestamp is None:
            timestamp = int(self.state.now())
        message["status"] = status
        message["statuses"].append({"status": status, "timestamp": timestamp})
        if error is not None:
            message["error"] = {"code": error[0], "details": error[1]}
            message["pending_error"] = None
        self.state.dirty = True
        if self.emitter.enabled:
            body = payloads.status_body(self.config, self.state, message, status, timestamp, error)
            self.emitter.emit(f"status.{status}", body)

    # -- media ------------------------------------------------------------------------
    def store_media(
        self,
        data: bytes,
        mime_type: str,
        filename: str | None = None,
        lifetime: float = UPLOADED_MEDIA_SECONDS,
    ) -> dict[str, Any]:
        state = self.state
        media_id = state.new_numeric_id()
        now = state.now()
        record: dict[str, Any] = {
            "id": media_id,
            "mime_type": mime_type,
            "sha256": hashlib.sha256(data).hexdigest(),
            "file_size": len(data),
            "created_at": now,
            "expires_at": now + lifetime,
        }
        if filename:
            record["filename"] = filename
        state.media[media_id] = record
        state.media_bytes[media_id] = data
        state.dirty = True
        return record

    def store_inbound_media(self, data: bytes, mime_type: str, filename: str | None = None) -> dict[str, Any]:
        return self.store_media(data, mime_type, filename, lifetime=INBOUND_MEDIA_SECONDS)

    def live_media(self, media_id: str) -> dict[str, Any] | None:
        """The media record, or None when there is none or its id has expired."""
        record = self.state.media.get(media_id)
        if record is None or record.get("expires_at", float("inf")) <= self.state.now():
            return None
        return record

    def media_hash(self, media_id: str, issued: int) -> str:
        message = f"{media_id}:{issued}".encode()
        return hmac.new(self.config.access_token.encode(), message, hashlib.sha256).hexdigest()[:22]

    def media_url(self, media_id: str, base_url: str | None = None) -> str:
        """A download URL issued now; it stops working after MEDIA_URL_SECONDS."""
        record = self.state.media[media_id]
        extension = record["mime_type"].split(";")[0].split("/")[-1]
        issued = int(self.state.now())
        return (
            f"{base_url or self.public_url}/whatsapp_business/attachments/"
            f"?mid={media_id}&ext={issued}&hash={self.media_hash(media_id, issued)}&type={extension}"
        )

    def media_url_valid(self, media_id: str, issued: str, given_hash: str) -> bool:
        if not issued.isdigit():
            return False
        expected = self.media_hash(media_id, int(issued)).encode()
        if not hmac.compare_digest(given_hash.encode(), expected):
            return False
        return self.state.now() - int(issued) <= MEDIA_URL_SECONDS and self.live_media(media_id) is not None

    def media_mime(self, media_id: str) -> str | None:
        record = self.live_media(media_id)
        return None if record is None else record["mime_type"]

    # -- templates --------------------------------------------------------------------
    def find_template(self, name: str, language: str) -> dict[str, Any] | None:
        for template in self.state.templates.values():
            if template["name"] == name and template["language"] == language:
                return template
        return None

    def ordered_templates(self) -> list[dict[str, Any]]:
        return sorted(self.state.templates.values(), key=lambda t: t["_order"])

    def create_template(self, body: dict[str, Any]) -> dict[str, Any]:
        template = templates.validate_create(body, list(self.state.templates.values()))
        template_id = self.state.new_numeric_id()
        template.update({"id": template_id, "_order": self.state.next_sequence(), "status": "PENDING"})
        self.state.templates[template_id] = template
        self.state.dirty = True
        self._schedule_review(template_id)
        return {"id": template_id, "status": "PENDING", "category": template["category"]}

    def edit_template(self, template: dict[str, Any], body: dict[str, Any]) -> None:
        """Meta's edit: the changes replace the old values and the template is reviewed again."""
        template.update(templates.validate_edit(template, body, self.state.now()))
        template["status"] = "PENDING"
        self.state.dirty = True
        self._schedule_review(template["id"])

    def _schedule_review(self, template_id: str) -> None:
        if self.config.auto_approve_templates:
            self.call_later(self.config.template_review_seconds, self._review, template_id)

    def _review(self, template_id: str) -> None:
        template = self.state.templates.get(template_id)
        if template is not None and template["status"] == "PENDING":
            self.set_template_status(template, *templates.review(template))

    def set_template_status(
        self,
        template: dict[str, Any],
        event: str,
        reason: str = "NONE",
        rejection_info: dict[str, str] | None = None,
        other_info: dict[str, str] | None = None,
        disable_info: dict[str, str] | None = None,
    ) -> None:
        if event not in TEMPLATE_EVENTS:
            raise ValueError(f"event must be one of {', '.join(TEMPLATE_EVENTS)}")
        status = TEMPLATE_EVENT_STATUS[event]
        if status is not None:
            template["status"] = status
        template["rejected_reason"] = reason if event == "REJECTED" else "NONE"
        now = int(self.state.now())
        if event == "DISABLED" and disable_info is None:
            disable_info = {"disable_date": str(now)}  # Meta tells when it was disabled
        if event == "LOCKED":
            template["_locked"] = True  # edits are refused from now on
        if event == "LOCKED" and other_info is None:
            other_info = {
                "title": "TEMPLATE_LOCKED",
                "description": "This template can no longer be edited.",
            }
        self.state.dirty = True
        if self.emitter.enabled:
            body = payloads.template_status_body(
                self.config,
                template,
                event,
                reason,
                now,
                rejection_info,
                other_info=other_info,
                disable_info=disable_info,
            )
            self.emitter.emit(f"template.{event.lower()}", body)

    # -- inbound ----------------------------------------------------------------------
    def inject(self, request: dict[str, Any]) -> dict[str, Any]:
        state = self.state
        now = state.now()
        wa_id, message = inbound.build(
            request,
            wamid=state.new_wamid(str(request.get("from", ""))),
            timestamp=int(now),
            business_number=self.config.display_phone_number,
            store=self.store_inbound_media,
            known_name=lambda number: state.contacts.get(number, {}).get("name"),
        )
        if wa_id in state.account["blocked"]:
            # A blocked user cannot reach the business: no webhook, no window (sandbox/account.py).
            return {**message, "blocked": True}
        users.address_inbound(self.config, state, wa_id, message)
        if self._throughput is not None:
            # Meta's throughput counts incoming and outgoing messages together: a busy
            # inbound stream leaves less room for sends (an inbound message is never refused).
            self._throughput.take()
        kind = message["type"]
        if self.config.inbound_media_url and kind in inbound.MEDIA_TYPES:
            media = message.get(kind)
            if isinstance(media, dict) and "id" in media:
                media["url"] = self.media_url(media["id"])
        state.inbound[message["id"]] = {
            "id": message["id"],
            "from": wa_id,
            "name": request.get("name"),
            "type": kind,
            "timestamp": now,
            "read": False,
            "message": message,
        }
        contact = state.contacts.setdefault(wa_id, {})
        if request.get("name"):
            contact["name"] = request["name"]
        if kind == "system":
            # A notice from WhatsApp, not the user writing: it opens no window.
            if message["system"]["type"] == "user_changed_number":
                self._change_number(wa_id, message["system"]["wa_id"])
        else:
            state.windows[wa_id] = now  # a user message opens (or renews) the 24-hour window
            if "referral" in message:
                # Came from a click-to-WhatsApp ad: a 72-hour free entry point window.
                state.entry_points[wa_id] = now
        state.dirty = True
        if self.emitter.enabled:
            self.emitter.emit(f"message.{kind}", payloads.inbound_body(self.config, state, wa_id, message))
        return message

    def _change_number(self, old: str, new: str) -> None:
        """The user now answers on ``new``: their name and open window move there,
        and ``old`` is no WhatsApp account any more, so templates sent to it get
        a ``failed`` status with 131026, Meta's error for a number that is not on
        WhatsApp (free-form sends are already refused: the window moved)."""
        state = self.state
        contact = state.contacts.pop(old, {})
        state.contacts.setdefault(new, {}).update(contact)
        window = state.windows.pop(old, None)
        if window is not None:
            state.windows[new] = max(window, state.windows.get(new, window))
        state.undeliverable.add(old)
        state.undeliverable.discard(new)
