"""Filters of the web inbox's templates: message summaries, ticks, window labels."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from django import template

from ..services.inbox import display_number, window_left

register = template.Library()

#: Status -> (ticks, words for screen readers and the tooltip).
_TICKS = {
    "queued": ("🕓", "queued"),
    "sending": ("🕓", "sending"),
    "sent": ("✓", "sent"),
    "delivered": ("✓✓", "delivered"),
    "read": ("✓✓", "read"),
    "played": ("✓✓", "played"),
    "failed": ("!", "failed"),
}


@register.filter
def ticks(status: str) -> tuple[str, str]:
    return _TICKS.get(status, ("", status))


@register.filter
def window_label(conversation: Any) -> str:
    """``"window open, 3 h 12 min left"`` or ``"window closed: templates only"``."""
    left = window_left(conversation)
    if left is None:
        return "window closed: templates only"
    minutes = int(left.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return f"window open, {hours} h {minutes} min left" if hours else f"window open, {minutes} min left"


@register.filter
def phone_display(wa_id: str) -> str:
    return display_number(wa_id or "")


@register.filter
def user_label(user_id: Any) -> str:
    user = get_user_model().objects.filter(pk=user_id).first()
    return user.get_username() if user is not None else "nobody"


@register.filter
def message_summary(message: Any) -> str:
    """One line for the list: the text, else what kind of message it is."""
    if message.text and message.type != "template":
        return message.text
    content = message.content or {}
    if message.type == "template":
        return f"Template {content.get('name', '')}".strip()
    if message.type == "location":
        location = content.get("location") or {}
        return f"📍 {location.get('name') or 'Location'}"
    if message.type == "contacts":
        return "👤 Contact card"
    return message.type.capitalize()


@register.filter
def contact_cards(content: dict) -> list[dict[str, str]]:
    """Shared contacts as ``{"name", "phones"}`` whatever shape they were stored in."""
    cards = []
    for card in (content or {}).get("contacts") or []:
        if not isinstance(card, dict):
            continue
        name = card.get("name")
        if isinstance(name, dict):
            name = (
                name.get("formatted_name")
                or " ".join(str(name.get(part, "")) for part in ("first_name", "last_name")).strip()
            )
        phones = [
            str(p.get("phone") or p.get("wa_id") or "")
            for p in card.get("phones") or []
            if isinstance(p, dict)
        ]
        cards.append({"name": str(name or ""), "phones": ", ".join(filter(None, phones))})
    return cards


@register.filter
def get(mapping: Any, key: str) -> Any:
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.filter
def template_text(message: Any) -> str:
    from ..services.inbox import rendered_template_text

    return rendered_template_text(message)


@register.filter
def purpose_label(purpose: str) -> str:
    return {"whatsapp_messaging": "WhatsApp messages", "marketing": "Marketing"}.get(purpose, purpose)
