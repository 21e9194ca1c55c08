"""What a webhook body names, read before it is stored: the accounts to route and
authenticate it by (services/webhook_auth.py) and its changes' fields.

The C++ core reads these ids straight from the raw body (``_core.webhook_routing``),
without decoding it into Python objects; the body itself is parsed once, during
processing. A body the core cannot read exactly (not a JSON object, or an id that is
neither text nor an integer) is decoded here in full, which gives the same routing
and names what is wrong with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from wacloud import _core

from .webhook_auth import RoutedChange, routing_of


@dataclass(frozen=True)
class BodyRouting:
    """The accounts a body names, change by change, its changes' fields, and why it is
    unusable (``""``: it is a JSON object)."""

    changes: list[RoutedChange] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    error: str = ""


def route_body(body: bytes) -> BodyRouting:
    routed = _core.webhook_routing(body)
    if routed is not None:
        changes, fields = routed
        return BodyRouting([RoutedChange(waba_id, phone_id) for waba_id, phone_id in changes], fields)
    payload, error = decode_payload(body)
    return BodyRouting(routing_of(payload), change_fields(payload), error)


def decode_payload(body: bytes) -> tuple[dict[str, Any] | None, str]:
    """``(payload, "")`` or ``(None, reason)``."""
    try:
        # Decoded explicitly: json.loads(bytes) would also accept UTF-16/32, which Meta never sends.
        payload = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        return None, "not UTF-8"
    except (ValueError, RecursionError) as exc:
        return None, f"not valid JSON ({exc})" if isinstance(exc, ValueError) else "nested too deeply"
    if not isinstance(payload, dict):
        return None, f"expected a JSON object, got {type(payload).__name__}"
    return payload, ""


def change_fields(payload: dict[str, Any] | None) -> list[str]:
    entries = payload.get("entry") if payload else None
    fields = []
    for entry in entries if isinstance(entries, list) else []:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for change in changes if isinstance(changes, list) else []:
            if isinstance(change, dict) and change.get("field"):
                fields.append(str(change["field"]))
    return fields
