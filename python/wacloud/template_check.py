"""A template send checked against the template itself, before anything is sent, the way Meta
checks it: the header's kind and parameter, the body's parameters (by count, or by name for a
NAMED template), each button's ``index``, ``sub_type`` and parameter, the buttons whose value
must be sent, and the carousel's cards. The definition is Meta's template object
(:meth:`wacloud.Client.get_template`, an item of :meth:`~wacloud.Client.list_templates`) or just
its ``components``.

A mismatch raises :class:`TemplateMismatch` (a :class:`wacloud.TemplateError`) with Meta's
code: 132000 when parameters are missing, extra or misnamed, 132012 when one is of the wrong
kind. A component that is not shaped as Meta's reference says raises
:class:`wacloud.InvalidParameter` (100)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidParameter, TemplateError
from .template_components import TemplateComponent, component_dicts

__all__ = ["TemplateMismatch", "check_components", "placeholders"]

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
_MEDIA_FORMATS = ("IMAGE", "VIDEO", "DOCUMENT", "LOCATION")
# The sub_type a send gives each kind of template button, and the parameter it carries.
BUTTON_SUB_TYPES = {
    "QUICK_REPLY": "quick_reply",
    "URL": "url",
    "COPY_CODE": "copy_code",
    "OTP": "url",  # the one-time code, as Meta takes it for copy-code and one-tap buttons
    "FLOW": "flow",
    "CATALOG": "catalog",
    "MPM": "mpm",
}
BUTTON_PARAMETER_TYPES = {
    "quick_reply": "payload",
    "url": "text",
    "copy_code": "coupon_code",
    "flow": "action",
    "catalog": "action",
    "mpm": "action",
}
_BODY_PARAMETER_TYPES = ("text", "currency", "date_time")


class TemplateMismatch(TemplateError):
    """A template send that does not fit the template. ``component`` is ``header``, ``body``,
    ``button`` or ``carousel``; ``index`` the button's position (or the parameter's, from 0);
    ``card`` the carousel card, if the mismatch is in one."""

    def __init__(
        self,
        message: str,
        *,
        code: int = 132000,
        component: str = "",
        index: int | None = None,
        card: int | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.component = component
        self.index = index
        self.card = card


def placeholders(text: Any) -> list[str]:
    """The distinct variables of a text in order of first use: ``['1', '2']`` or ``['first_name']``."""
    seen: list[str] = []
    for name in _PLACEHOLDER.findall(text if isinstance(text, str) else ""):
        if name not in seen:
            seen.append(name)
    return seen


# -- the two sides -----------------------------------------------------------------------------
@dataclass
class _Shape:
    """What a template (or one carousel card) asks for."""

    header: Mapping[str, Any] | None = None
    body_text: str = ""
    has_body: bool = False
    buttons: list[Mapping[str, Any]] = field(default_factory=list)
    cards: list[_Shape] | None = None


def _shape(components: Any, where: str) -> _Shape:
    if not isinstance(components, Sequence) or isinstance(components, (str, bytes)):
        raise InvalidParameter(f"{where}: the template's components must be a list", code=100)
    shape = _Shape()
    for component in components:
        if not isinstance(component, Mapping):
            continue
        kind = str(component.get("type", "")).upper()
        if kind == "HEADER":
            shape.header = component
        elif kind == "BODY":
            shape.has_body, shape.body_text = True, str(component.get("text") or "")
        elif kind == "BUTTONS":
            shape.buttons = [b for b in component.get("buttons") or [] if isinstance(b, Mapping)]
        elif kind == "CAROUSEL":
            cards = [c for c in component.get("cards") or [] if isinstance(c, Mapping)]
            shape.cards = [
                _shape(c.get("components") or [], f"{where} card {i}") for i, c in enumerate(cards)
            ]
    return shape


@dataclass
class _Given:
    """What a send fills in."""

    header: list[Any] | None = None
    body: list[Any] | None = None
    buttons: dict[int, Mapping[str, Any]] = field(default_factory=dict)
    carousel: Mapping[str, Any] | None = None


def _given(components: Any, where: str, in_card: bool) -> _Given:
    if not isinstance(components, Sequence) or isinstance(components, (str, bytes)):
        raise InvalidParameter(f"{where}: must be a list of components", code=100)
    given = _Given()
    for position, component in enumerate(components):
        here = f"{where}[{position}]"
        if not isinstance(component, Mapping):
            raise InvalidParameter(f"{here}: each component must be a dict", code=100)
        kind = str(component.get("type", "")).lower()
        kinds = ("header", "body", "button") if in_card else ("header", "body", "button", "carousel")
        if kind not in kinds:
            raise InvalidParameter(f"{here}: type must be one of {', '.join(kinds)}, not {kind!r}", code=100)
        if kind == "carousel":
            if given.carousel is not None:
                raise InvalidParameter(f"{here}: a send has one carousel component", code=100)
            given.carousel = component
            continue
        parameters = component.get("parameters", [])
        if not isinstance(parameters, list) or not all(isinstance(p, Mapping) for p in parameters):
            raise InvalidParameter(f"{here}: parameters must be a list of parameter objects", code=100)
        if kind == "button":
            index = _button_index(component, here)
            if index in given.buttons:
                raise InvalidParameter(f"{here}: a second component for button {index}", code=100)
            given.buttons[index] = component
        elif getattr(given, kind) is not None:
            raise InvalidParameter(f"{here}: a send has one {kind} component", code=100)
        else:
            setattr(given, kind, parameters)
    return given


def _button_index(component: Mapping[str, Any], where: str) -> int:
    index = component.get("index")
    if isinstance(index, bool) or not isinstance(index, (int, str)) or not str(index).isdigit():
        raise InvalidParameter(f"{where}: a button component needs its index (0-9)", code=100)
    if not 0 <= int(index) <= 9:
        raise InvalidParameter(f"{where}: button index must be from 0 to 9, not {index}", code=100)
    if not component.get("sub_type"):
        raise InvalidParameter(f"{where}: a button component needs its sub_type", code=100)
    return int(index)


# -- the check ---------------------------------------------------------------------------------
def check_components(
    definition: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    components: Sequence[TemplateComponent | Mapping[str, Any]] | None,
    *,
    name: str = "",
    language: str = "",
) -> None:
    """Raise what Meta would answer to sending ``components`` (typed or raw) for the template
    ``definition``: its object or its components list. An object with a ``status`` must be
    APPROVED (132001; PAUSED 132015, DISABLED 132016), and its ``name``/``language`` those of
    the send when given."""
    label = f"template {name} ({language})" if name else "template"
    if isinstance(definition, Mapping):
        _check_identity(definition, name, language, label)
        parts = definition.get("components") or []
        declared = definition.get("parameter_format")
    else:
        parts, declared = definition, None
    shape = _shape(parts, "definition")
    named = str(declared).upper() == "NAMED" if declared else _uses_names(shape)
    given = _given(component_dicts(components or []), "components", in_card=False)
    _check_part(shape, given, named, label, None)
    _check_carousel(shape, given, named, label)


def _check_identity(definition: Mapping[str, Any], name: str, language: str, label: str) -> None:
    for key, wanted in (("name", name), ("language", language)):
        if wanted and definition.get(key) not in (None, wanted):
            raise InvalidParameter(
                f"definition: it is of {key} {definition.get(key)!r}, the send names {wanted!r}", code=100
            )
    status = str(definition.get("status") or "APPROVED").upper()
    if status == "PAUSED":
        raise TemplateError(f"{label} is paused", code=132015)
    if status == "DISABLED":
        raise TemplateError(f"{label} is disabled", code=132016)
    if status != "APPROVED":
        raise TemplateError(f"{label} is {status}; only approved templates can be sent", code=132001)


def _uses_names(shape: _Shape) -> bool:
    texts = [shape.body_text, str((shape.header or {}).get("text") or "")]
    texts += [card.body_text for card in shape.cards or []]
    return any(not variable.isdigit() for text in texts for variable in placeholders(text))


def _check_part(shape: _Shape, given: _Given, named: bool, label: str, card: int | None) -> None:
    where = label if card is None else f"{label}, carousel card {card}"
    _check_header(shape.header, given.header or [], named, where, card)
    if not shape.has_body and given.body:
        raise TemplateMismatch(
            f"{where}: has no body, {len(given.body)} parameter(s) given", component="body", card=card
        )
    _check_text("body", placeholders(shape.body_text), given.body or [], named, where, card)
    _check_buttons(shape.buttons, given.buttons, where, card)


def _check_header(
    header: Mapping[str, Any] | None, sent: list[Any], named: bool, where: str, card: int | None
) -> None:
    if header is None:
        if sent:
            raise TemplateMismatch(
                f"{where}: has no header, {len(sent)} parameter(s) given", component="header", card=card
            )
        return
    header_format = str(header.get("format") or "TEXT").upper()
    if header_format not in _MEDIA_FORMATS:
        _check_text("header", placeholders(header.get("text")), sent, named, where, card)
        return
    received = str(sent[0].get("type") or "none").upper() if sent else "NONE"
    if received != header_format:
        raise TemplateMismatch(
            f"{where}: the header is {header_format.lower()}, {received.lower()} given",
            code=132012,
            component="header",
            index=0,
            card=card,
        )
    if len(sent) != 1:
        raise TemplateMismatch(
            f"{where}: the header takes 1 parameter(s), {len(sent)} given", component="header", card=card
        )


def _check_text(
    kind: str, expected: list[str], sent: list[Any], named: bool, where: str, card: int | None
) -> None:
    if len(sent) != len(expected):
        raise TemplateMismatch(
            f"{where}: the {kind} takes {len(expected)} parameter(s), {len(sent)} given",
            component=kind,
            card=card,
        )
    allowed = ("text",) if kind == "header" else _BODY_PARAMETER_TYPES
    for position, parameter in enumerate(sent):
        if parameter.get("type") not in allowed:
            raise TemplateMismatch(
                f"{where}: {kind} parameter {position + 1} is {parameter.get('type')!r}; "
                f"the {kind} takes {', '.join(allowed)}",
                code=132012,
                component=kind,
                index=position,
                card=card,
            )
    if named:
        names = [parameter.get("parameter_name") for parameter in sent]
        if None in names:
            position = names.index(None)
            raise TemplateMismatch(
                f"{where}: {kind} parameter {position + 1} needs its parameter_name; the template's "
                f"are named: {', '.join(expected)}",
                component=kind,
                index=position,
                card=card,
            )
        if sorted(map(str, names)) != sorted(expected):
            missing = [n for n in expected if n not in names]
            unknown = [str(n) for n in names if n not in expected]
            raise TemplateMismatch(
                f"{where}: the {kind} takes the named parameters {', '.join(expected)}; missing: "
                f"{', '.join(missing) or 'none'}; unknown or repeated: {', '.join(unknown) or 'none'}",
                component=kind,
                card=card,
            )


def _button_kind(button: Mapping[str, Any]) -> str:
    return str(button.get("type") or "").upper()


def takes_parameter(button: Mapping[str, Any]) -> bool:
    """Whether a send may give this template button a value (a URL only with a variable)."""
    kind = _button_kind(button)
    if kind == "URL":
        return bool(placeholders(button.get("url")))
    return kind in BUTTON_SUB_TYPES


def needs_parameter(button: Mapping[str, Any]) -> bool:
    """Whether a send must give it one: a URL's variable, a coupon, a one-time code, the products."""
    kind = _button_kind(button)
    return kind in ("COPY_CODE", "OTP", "MPM") or (kind == "URL" and takes_parameter(button))


def _check_buttons(
    buttons: list[Mapping[str, Any]], sent: dict[int, Mapping[str, Any]], where: str, card: int | None
) -> None:
    for index, component in sorted(sent.items()):

        def mismatch(problem: str, code: int = 132000, index: int = index) -> TemplateMismatch:
            return TemplateMismatch(
                f"{where}: button {index} {problem}", code=code, component="button", index=index, card=card
            )

        if index >= len(buttons):
            raise mismatch(f"does not exist (the template has {len(buttons)} button(s))")
        kind = _button_kind(buttons[index])
        if not takes_parameter(buttons[index]):
            raise mismatch(f"({kind}) takes no parameter")
        sub_type, expected = str(component.get("sub_type")).lower(), BUTTON_SUB_TYPES[kind]
        if sub_type != expected:
            raise mismatch(f"is {kind}: its sub_type is {expected!r}, not {sub_type!r}", 132012)
        parameters = component.get("parameters") or []
        if len(parameters) != 1:
            raise mismatch(f"takes 1 parameter, {len(parameters)} given")
        parameter_type = BUTTON_PARAMETER_TYPES[expected]
        if parameters[0].get("type") != parameter_type:
            raise mismatch(f"takes a {parameter_type!r} parameter, not {parameters[0].get('type')!r}", 132012)
    for index, button in enumerate(buttons):
        if needs_parameter(button) and index not in sent:
            raise TemplateMismatch(
                f"{where}: button {index} ({_button_kind(button)}) needs its parameter",
                component="button",
                index=index,
                card=card,
            )


def _check_carousel(shape: _Shape, given: _Given, named: bool, label: str) -> None:
    if shape.cards is None:
        if given.carousel is not None:
            raise TemplateMismatch(f"{label}: has no carousel", component="carousel")
        return
    if given.carousel is None:
        raise TemplateMismatch(
            f"{label}: the carousel's {len(shape.cards)} card(s) need their values", component="carousel"
        )
    cards = given.carousel.get("cards")
    if not isinstance(cards, list) or not all(isinstance(c, Mapping) for c in cards):
        raise InvalidParameter("carousel: cards must be a list of card objects", code=100)
    if len(cards) != len(shape.cards):
        raise TemplateMismatch(
            f"{label}: the carousel has {len(shape.cards)} card(s), {len(cards)} given", component="carousel"
        )
    seen: set[int] = set()
    for position, card in enumerate(cards):
        index = card.get("card_index")
        if isinstance(index, bool) or not isinstance(index, (int, str)) or not str(index).isdigit():
            raise InvalidParameter(f"carousel: cards[{position}] needs its card_index", code=100)
        index = int(index)
        if index >= len(shape.cards) or index in seen:
            raise TemplateMismatch(
                f"{label}: card_index {index} is out of range or repeated", component="carousel", index=index
            )
        seen.add(index)
        inner = _given(card.get("components", []), f"carousel cards[{position}].components", in_card=True)
        _check_part(shape.cards[index], inner, named, label, index)
