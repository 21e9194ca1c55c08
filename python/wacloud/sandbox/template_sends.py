"""The checks Meta makes when a template message is sent, against the stored template: its
status, each component's shape and parameter objects, the header's kind, the body's
parameters (by count, or by name for a NAMED template), each button's ``index``,
``sub_type`` and parameter, the buttons whose value must be sent, and the carousel's cards.

Codes as Meta answers them: 132001 (unknown or not approved), 132015 (paused), 132016
(disabled), 132000 (parameters missing, extra or misnamed), 132012 (a parameter of the wrong
kind), 131008 (a required field missing), 131009 (a value out of range)."""

from __future__ import annotations

import re
from typing import Any

from .graph_errors import GraphError, invalid, invalid_parameter, missing

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
MEDIA_FORMATS = ("IMAGE", "VIDEO", "DOCUMENT", "LOCATION")
BODY_PARAMETER_TYPES = ("text", "currency", "date_time")
# The sub_type a send gives each kind of template button, and the parameter it carries.
BUTTON_SUB_TYPES = {
    "QUICK_REPLY": "quick_reply",
    "URL": "url",
    "COPY_CODE": "copy_code",
    "OTP": "url",  # an authentication template's code goes as a url button's text
    "FLOW": "flow",
    "CATALOG": "catalog",
    "MPM": "mpm",
}
BUTTON_PARAMETERS = {
    "quick_reply": "payload",
    "url": "text",
    "copy_code": "coupon_code",
    "flow": "action",
    "catalog": "action",
    "mpm": "action",
}
# What a parameter object of each type must carry (Meta's template message reference).
_PARAMETER_FIELDS = {
    "currency": ("fallback_value", "code", "amount_1000"),
    "date_time": ("fallback_value",),
    "location": ("latitude", "longitude"),
}


def placeholders(text: str) -> list[str]:
    """Distinct variables in order of first use: ``['1', '2']`` or ``['first_name']``."""
    seen: list[str] = []
    for name in _PLACEHOLDER.findall(text or ""):
        if name not in seen:
            seen.append(name)
    return seen


def check_send(template: dict[str, Any] | None, name: str, language: str, components: list[Any]) -> None:
    """Refuse a template send the way Meta does (see the module's codes)."""
    if template is None or template["status"] not in ("APPROVED", "PAUSED", "DISABLED"):
        raise GraphError(132001, f"template name ({name}) does not exist in {language}")
    if template["status"] == "PAUSED":
        raise GraphError(132015, f"Template {name} is paused.")
    if template["status"] == "DISABLED":
        raise GraphError(132016, f"Template {name} is disabled.")
    named = template.get("parameter_format") == "NAMED"
    given = _read(components, "template['components']", in_card=False)
    _match(template["components"], given, named, "")
    cards = _cards_of(template["components"])
    carousel = given["carousel"]
    if cards is None:
        if carousel is not None:
            raise GraphError(132000, "carousel: the template has no CAROUSEL component")
        return
    if carousel is None:
        raise GraphError(132000, f"carousel: the template's {len(cards)} cards need their parameters")
    sent_cards = carousel.get("cards")
    if not isinstance(sent_cards, list) or not all(isinstance(c, dict) for c in sent_cards):
        raise missing(f"{carousel['_where']}['cards']")
    if len(sent_cards) != len(cards):
        raise GraphError(132000, f"carousel: {len(sent_cards)} cards given, the template has {len(cards)}")
    seen: set[int] = set()
    for position, card in enumerate(sent_cards):
        where = f"{carousel['_where']}['cards'][{position}]"
        index = card.get("card_index")
        if index is None or index == "":
            raise missing(f"{where}['card_index']")
        if isinstance(index, bool) or not str(index).isdigit():
            raise invalid(f"Param {where}['card_index'] must be a card position.")
        if int(index) >= len(cards) or int(index) in seen:
            raise GraphError(132000, f"carousel: card_index {index} is out of range or repeated")
        seen.add(int(index))
        inner = _read(card.get("components", []), f"{where}['components']", in_card=True)
        _match(cards[int(index)], inner, named, f"card {index}: ")


# -- what the send gives -----------------------------------------------------------------------
def _read(components: Any, where: str, in_card: bool) -> dict[str, Any]:
    if not isinstance(components, list) or not all(isinstance(c, dict) for c in components):
        raise invalid(f"Param {where} must be an array of objects.")
    kinds = ("header", "body", "button") if in_card else ("header", "body", "button", "carousel")
    given: dict[str, Any] = {"header": None, "body": None, "buttons": {}, "carousel": None}
    for index, component in enumerate(components):
        here = f"{where}[{index}]"
        kind = str(component.get("type", "")).lower()
        if kind not in kinds:
            raise invalid_parameter(f"Param {here}['type'] must be one of {{{', '.join(kinds)}}}.")
        if kind == "carousel":
            if given["carousel"] is not None:
                raise invalid_parameter(f"Param {where} has more than one carousel component.")
            given["carousel"] = {**component, "_where": here}
            continue
        parameters = component.get("parameters", [])
        if not isinstance(parameters, list):
            raise invalid(f"Param {here}['parameters'] must be an array.")
        for p_index, parameter in enumerate(parameters):
            _check_parameter(parameter, f"{here}['parameters'][{p_index}]")
        if kind == "button":
            position = _button_position(component, here)
            if position in given["buttons"]:
                raise invalid_parameter(f"Param {where} has two components for button {position}.")
            given["buttons"][position] = component
        elif given[kind] is not None:
            raise invalid_parameter(f"Param {where} has more than one {kind} component.")
        else:
            given[kind] = parameters
    return given


def _check_parameter(parameter: Any, where: str) -> None:
    if not isinstance(parameter, dict) or "type" not in parameter:
        raise missing(f"{where}['type']")
    kind = parameter["type"]
    if kind in ("text", "payload", "coupon_code") and not isinstance(parameter.get(kind), str):
        raise missing(f"{where}['{kind}']")
    if kind == "action" and not isinstance(parameter.get("action"), dict):
        raise missing(f"{where}['action']")
    if kind not in _PARAMETER_FIELDS:
        return
    value = parameter.get(kind)
    if not isinstance(value, dict):
        raise missing(f"{where}['{kind}']")
    for key in _PARAMETER_FIELDS[kind]:
        if value.get(key) in (None, ""):
            raise missing(f"{where}['{kind}']['{key}']")
    if kind == "currency":
        if not isinstance(value["code"], str) or not re.match(r"^[A-Z]{3}$", value["code"]):
            raise invalid(f"Param {where}['currency']['code'] must be an ISO 4217 code such as 'USD'.")
        amount = value["amount_1000"]
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise invalid(f"Param {where}['currency']['amount_1000'] must be an integer.")


def _button_position(component: dict[str, Any], where: str) -> int:
    """A button component names the button it fills: ``sub_type`` and ``index`` (0-9)."""
    for key in ("sub_type", "index"):
        if component.get(key) in (None, ""):
            raise missing(f"{where}['{key}']")
    position = component["index"]
    if isinstance(position, bool) or not str(position).isdigit() or not 0 <= int(position) <= 9:
        raise invalid(f"Param {where}['index'] must be a button position from 0 to 9.")
    return int(position)


# -- what the template asks for ----------------------------------------------------------------
def _component(components: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    for component in components:
        if str(component.get("type", "")).upper() == kind:
            return component
    return None


def _cards_of(components: list[dict[str, Any]]) -> list[list[dict[str, Any]]] | None:
    carousel = _component(components, "CAROUSEL")
    if carousel is None:
        return None
    return [card.get("components", []) for card in carousel.get("cards", [])]


def _match(components: list[dict[str, Any]], given: dict[str, Any], named: bool, prefix: str) -> None:
    header = _component(components, "HEADER")
    sent_header = given["header"] or []
    if header is not None and str(header.get("format", "TEXT")).upper() in MEDIA_FORMATS:
        header_format = str(header["format"]).upper()
        received = str(sent_header[0].get("type", "unknown")).upper() if sent_header else "NONE"
        if received != header_format:
            raise GraphError(
                132012, f"{prefix}header: Format mismatch, expected {header_format}, received {received}"
            )
        if len(sent_header) != 1:
            raise GraphError(132000, f"{prefix}header: a {header_format} header takes one parameter")
    else:
        _match_text("header", header, sent_header, named, prefix)
    _match_text("body", _component(components, "BODY"), given["body"] or [], named, prefix)
    buttons = (_component(components, "BUTTONS") or {}).get("buttons", [])
    _match_buttons(buttons, given["buttons"], prefix)


def _match_text(
    kind: str, component: dict[str, Any] | None, sent: list[Any], named: bool, prefix: str
) -> None:
    if component is None:
        if sent:
            raise GraphError(132000, f"{prefix}{kind}: the template has no {kind.upper()} component")
        return
    expected = placeholders(component.get("text", ""))
    if len(sent) != len(expected):
        raise GraphError(
            132000,
            f"{prefix}{kind}: number of localizable_params ({len(sent)}) does not match the expected number "
            f"of params ({len(expected)})",
        )
    allowed = ("text",) if kind == "header" else BODY_PARAMETER_TYPES
    for index, parameter in enumerate(sent):
        if parameter["type"] not in allowed:
            raise GraphError(
                132012,
                f"{prefix}{kind}: parameter {index} has type {parameter['type']}, expected one of "
                f"{', '.join(allowed)}",
            )
    if named:
        names = [p.get("parameter_name") for p in sent]
        if sorted(map(str, names)) != sorted(expected):
            raise GraphError(
                132000, f"{prefix}{kind}: parameter names {sorted(map(str, names))} do not match {expected}"
            )


def _takes_value(button: dict[str, Any]) -> bool:
    kind = str(button.get("type", "")).upper()
    return bool(placeholders(button.get("url", ""))) if kind == "URL" else kind in BUTTON_SUB_TYPES


def _match_buttons(buttons: list[dict[str, Any]], sent: dict[int, dict[str, Any]], prefix: str) -> None:
    for index, component in sorted(sent.items()):
        where = f"{prefix}button {index}"
        if index >= len(buttons):
            raise GraphError(132000, f"{where}: the template has {len(buttons)} buttons")
        kind = str(buttons[index].get("type", "")).upper()
        if not _takes_value(buttons[index]):
            raise GraphError(132000, f"{where}: a {kind} button takes no parameters")
        sub_type, expected = str(component["sub_type"]).lower(), BUTTON_SUB_TYPES[kind]
        if sub_type != expected:
            raise GraphError(
                132012, f"{where}: Format mismatch, expected sub_type {expected}, received {sub_type}"
            )
        parameters = component.get("parameters", [])
        if len(parameters) != 1:
            raise GraphError(132000, f"{where}: number of params ({len(parameters)}) does not match 1")
        wanted = BUTTON_PARAMETERS[expected]
        if parameters[0]["type"] != wanted:
            raise GraphError(
                132012, f"{where}: Format mismatch, expected {wanted}, received {parameters[0]['type']}"
            )
    for index, button in enumerate(buttons):
        kind = str(button.get("type", "")).upper()
        required = kind in ("COPY_CODE", "OTP", "MPM") or (kind == "URL" and _takes_value(button))
        if required and index not in sent:
            raise GraphError(132000, f"{prefix}button {index}: a {kind} button needs its parameter")
