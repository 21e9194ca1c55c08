"""Everything the sandbox remembers, and its JSON persistence.

The state lives in plain dicts owned by the event-loop thread; nothing here is
locked. Saving writes a snapshot (media bytes as files beside it) and is done
periodically off the request path, never per request."""

from __future__ import annotations

import binascii
import hashlib
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from .account import default_account

STATE_VERSION = 1

HELLO_WORLD_ID = "1071389101286316"


def hello_world_template() -> dict[str, Any]:
    """The template Meta puts in every new WhatsApp Business Account."""
    return {
        "id": HELLO_WORLD_ID,
        "_order": 0,
        "name": "hello_world",
        "language": "en_US",
        "status": "APPROVED",
        "category": "UTILITY",
        "parameter_format": "POSITIONAL",
        "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Hello World"},
            {
                "type": "BODY",
                "text": "Welcome and congratulations!! This message demonstrates your ability to send a "
                "WhatsApp message notification from the Cloud API, hosted by Meta. Thank you for taking "
                "the time to test with us.",
            },
            {"type": "FOOTER", "text": "WhatsApp Business Platform sample message"},
        ],
    }


def default_profile() -> dict[str, Any]:
    return {
        "about": "Hello from the wacloud sandbox",
        "address": "",
        "description": "",
        "email": "",
        "profile_picture_url": "",
        "websites": [],
        "vertical": "OTHER",
        "messaging_product": "whatsapp",
    }


class State:
    """The sandbox's memory. ``clock_offset`` shifts its notion of now, so tests can
    let 24-hour windows and conversations expire without waiting."""

    def __init__(self) -> None:
        self.clock_offset = 0.0
        self.sequence = 0
        self.templates: dict[str, dict[str, Any]] = {}
        self.media: dict[str, dict[str, Any]] = {}
        self.media_bytes: dict[str, bytes] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.inbound: dict[str, dict[str, Any]] = {}
        self.contacts: dict[str, dict[str, Any]] = {}
        self.windows: dict[str, float] = {}
        self.entry_points: dict[str, float] = {}
        self.conversations: dict[str, dict[str, Any]] = {}
        self.open_conversations: dict[tuple[str, str], str] = {}
        self.undeliverable: set[str] = set()
        self.profile: dict[str, Any] = default_profile()
        self.deliveries: dict[str, dict[str, Any]] = {}
        # Registration, PIN, subscription, block list, QR codes, uploads (sandbox/account.py);
        # upload bytes stay in memory only.
        self.account: dict[str, Any] = default_account()
        self.upload_bytes: dict[str, bytearray] = {}
        self.flows: dict[str, dict[str, Any]] = {}
        self.flow_public_key = ""  # the number's PEM from POST .../whatsapp_business_encryption
        # Business-scoped user ids (sandbox/users.py): how often a number's ids changed, the
        # numbers Meta does not share (users known by BSUID only), and every id issued.
        self.user_generations: dict[str, int] = {}
        self.hidden_numbers: set[str] = set()
        self.user_index: dict[str, str] = {}
        self.dirty = False
        # Random per process, so wamids stay unique across restarts without a syscall per id.
        self._id_prefix = secrets.token_hex(4)
        self.reset()

    def reset(self) -> None:
        """Back to a fresh account: only ``hello_world``, no traffic, real time."""
        self.clock_offset = 0.0
        self.templates = {HELLO_WORLD_ID: hello_world_template()}
        self.media.clear()
        self.media_bytes.clear()
        self.messages.clear()
        self.inbound.clear()
        self.contacts.clear()
        self.windows.clear()
        self.entry_points.clear()
        self.conversations.clear()
        self.open_conversations.clear()
        self.undeliverable.clear()
        self.profile = default_profile()
        self.deliveries.clear()
        self.account = default_account()
        self.upload_bytes.clear()
        self.flows = {}
        self.flow_public_key = ""
        self.user_generations.clear()
        self.hidden_numbers.clear()
        self.user_index.clear()
        self.dirty = True

    # -- time and ids ---------------------------------------------------------------
    def now(self) -> float:
        return time.time() + self.clock_offset

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence

    def new_wamid(self, wa_id: str) -> str:
        # Meta's ids are base64 of an opaque binary; ours stay unique across restarts.
        self.sequence += 1  # next_sequence(), one call fewer on every send
        raw = f"{wa_id}:{self._id_prefix}{self.sequence:x}".encode()
        return "wamid." + binascii.b2a_base64(raw, newline=False).decode()  # base64.b64encode's core

    def new_numeric_id(self) -> str:
        # 16 digits like Meta's object ids; the sequence part keeps them unique.
        return f"{100000 + secrets.randbelow(900000)}{self.next_sequence():010d}"

    @staticmethod
    def user_ids(wa_id: str) -> tuple[str, str]:
        """Stable business-scoped user ids for a number (``user_id``, ``parent_user_id``)."""
        digest = int.from_bytes(hashlib.sha256(wa_id.encode()).digest()[:8], "big")
        return f"US.{digest}", f"US.ENT.{digest // 7}"

    def user_ids_of(self, wa_id: str) -> tuple[str, str]:
        """A number's current business-scoped user ids (they change with each
        ``user_id_update``), remembered so that sends to them find the user."""
        generation = self.user_generations.get(wa_id, 0)
        ids = State.user_ids(f"{wa_id}#{generation}" if generation else wa_id)
        if self.user_index.get(ids[0]) != wa_id:
            self.user_index.update(dict.fromkeys(ids, wa_id))
            self.dirty = True
        return ids

    # -- persistence ----------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "clock_offset": self.clock_offset,
            "sequence": self.sequence,
            "templates": self.templates,
            "media": self.media,
            "messages": self.messages,
            "inbound": self.inbound,
            "contacts": self.contacts,
            "windows": self.windows,
            "entry_points": self.entry_points,
            "conversations": self.conversations,
            "undeliverable": sorted(self.undeliverable),
            "profile": self.profile,
            "deliveries": self.deliveries,
            "account": self.account,
            "flows": self.flows,
            "flow_public_key": self.flow_public_key,
            "user_generations": self.user_generations,
            "hidden_numbers": sorted(self.hidden_numbers),
            "user_index": self.user_index,
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the state atomically; media bytes go to ``<path>.media/<id>``."""
        target = Path(path)
        media_dir = target.with_name(target.name + ".media")
        media_dir.mkdir(parents=True, exist_ok=True)
        for media_id, data in self.media_bytes.items():
            file = media_dir / media_id
            if not file.exists():
                file.write_bytes(data)
        for stale in media_dir.iterdir():
            if stale.name not in self.media_bytes:
                stale.unlink()
        temporary = target.with_name(target.name + ".tmp")
        temporary.write_text(json.dumps(self.snapshot(), separators=(",", ":")))
        os.replace(temporary, target)
        self.dirty = False

    def load(self, path: str | os.PathLike[str]) -> bool:
        """Read a saved state; False when there is none yet. A corrupt file raises ValueError."""
        source = Path(path)
        if not source.exists():
            return False
        try:
            data = json.loads(source.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"state file {source} is not valid JSON: {error}") from error
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            raise ValueError(f"state file {source} was not written by this sandbox version")
        self.clock_offset = float(data["clock_offset"])
        self.sequence = int(data["sequence"])
        self.templates = data["templates"]
        self.media = data["media"]
        self.messages = data["messages"]
        self.inbound = data["inbound"]
        self.contacts = data["contacts"]
        self.windows = {k: float(v) for k, v in data["windows"].items()}
        self.entry_points = {k: float(v) for k, v in data.get("entry_points", {}).items()}
        self.conversations = data["conversations"]
        self.undeliverable = set(data["undeliverable"])
        self.profile = data["profile"]
        self.deliveries = data["deliveries"]
        self.account = {**default_account(), **data.get("account", {})}
        self.flows = data.get("flows", {})
        self.flow_public_key = data.get("flow_public_key", "")
        self.user_generations = {k: int(v) for k, v in data.get("user_generations", {}).items()}
        self.hidden_numbers = set(data.get("hidden_numbers", []))
        self.user_index = dict(data.get("user_index", {}))
        self.open_conversations = {(c["wa_id"], c["category"]): c["id"] for c in self.conversations.values()}
        media_dir = source.with_name(source.name + ".media")
        self.media_bytes = {}
        for media_id in self.media:
            file = media_dir / media_id
            if file.exists():
                self.media_bytes[media_id] = file.read_bytes()
        self.dirty = False
        return True
