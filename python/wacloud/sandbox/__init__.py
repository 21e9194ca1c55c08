"""A local stand-in for Meta's WhatsApp Cloud API: the same paths, JSON shapes,
error codes and signed webhooks, plus a control API to play the user's side and
inject faults. See docs/sandbox.md.

Names are imported lazily: the pytest plugin lives in this package and is loaded
in every pytest run, which must not pay for (or require) aiohttp."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .collector import ReceivedWebhook, WebhookCollector
    from .config import Faults, SandboxConfig
    from .sandbox import Sandbox

__all__ = ["Faults", "ReceivedWebhook", "Sandbox", "SandboxConfig", "WebhookCollector"]

_HOMES = {
    "Sandbox": "sandbox",
    "SandboxConfig": "config",
    "Faults": "config",
    "WebhookCollector": "collector",
    "ReceivedWebhook": "collector",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        from importlib import import_module

        return getattr(import_module(f".{_HOMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
