"""Message templates: creation checks, the review outcome, listing with Graph
paging, and the checks made when a template message is sent."""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import urlencode

from .graph_errors import GraphError, invalid, missing, nonexisting_field

CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")
# Languages Meta supports for templates.
LANGUAGES = frozenset(
    "af sq ar az bn bg ca zh_CN zh_HK zh_TW hr cs da nl en en_GB en_US et fil fi fr ka de el gu ha he "
    "hi hu id ga it ja kn kk rw_RW ko ky_KG lo lv lt mk ms ml mr nb fa pl pt_BR pt_PT pa ro ru sr sk sl "
    "es es_AR es_ES es_MX sw sv ta te th tr uk ur uz vi zu".split()
)
BUTTON_TYPES = ("QUICK_REPLY", "URL", "PHONE_NUMBER", "COPY_CODE", "OTP", "FLOW", "CATALOG", "MPM")
HEADER_FORMATS = ("TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION")
DEFAULT_FIELDS = ("name", "parameter_format", "components", "language", "status", "category", "id")
KNOWN_FIELDS = frozenset(DEFAULT_FIELDS) | {"rejected_reason", "quality_score", "sub_category"}
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
_ADJACENT = re.compile(r"\}\}\s*\{\{")
_NAME = re.compile(r"^[a-z0-9_]{1,512}$")


def template_error(title: str, message: str, subcode: int | None = None) -> GraphError:
    """Template management errors carry a user title and message instead of error_data."""
    return GraphError(
        100,
        message="Invalid parameter",
        subcode=subcode,
        extra={"is_transient": False, "error_user_title": title, "error_user_msg": message},
        with_error_data=False,
    )


def placeholders(text: str) -> list[str]:
    """Distinct variables in order of first use: ``['1', '2']`` or ``['first_name']``."""
    seen: list[str] = []
    for name in _PLACEHOLDER.findall(text or ""):
        if name not in seen:
            seen.append(name)
    return seen


def _component(template: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for component in template.get("components", []):
        if str(component.get("type", "")).upper() == kind:
            return component
    return None


# -- creation -----------------------------------------------------------------------
def validate_create(body: dict[str, Any], existing: list[dict[str, Any]]) -> dict[str, Any]:
    """Check a template creation request; return the new template (without id/status)."""
    name = body.get("name")
    if not name:
        raise template_error("Missing name", "The parameter name is required.")
    if not isinstance(name, str) or not _NAME.match(name):
        raise template_error(
            "Invalid template name",
            "Template names may only contain lowercase letters, digits and underscores.",
        )
    category = str(body.get("category", "")).upper()
    if category not in CATEGORIES:
        raise template_error(
            "Invalid category", f"Param category must be one of {{{', '.join(CATEGORIES)}}}."
        )
    language = body.get("language")
    if language not in LANGUAGES:
        raise template_error("Invalid language", f"Language {language!r} is not supported for templates.")
    if any(t["name"] == name and t["language"] == language for t in existing):
        raise template_error(
            "Content in This Language Already Exists",
            f"There is already {language} content for this template. "
            "You can create a new template and try again.",
            subcode=2388024,
        )
    components = body.get("components")
    if not isinstance(components, list) or not all(isinstance(c, dict) for c in components):
        raise template_error("Missing components", "Param components must be an array of objects.")
    kinds = [str(c.get("type", "")).upper() for c in components]
    if kinds.count("BODY") != 1 or any(k not in ("HEADER", "BODY", "FOOTER", "BUTTONS") for k in kinds):
        raise template_error(
            "Invalid components", "A template has exactly one BODY and optional HEADER, FOOTER and BUTTONS."
        )
    for component, kind in zip(components, kinds, strict=True):
        _check_component(component, kind)
    parameter_format = str(body.get("parameter_format", "POSITIONAL")).upper()
    if parameter_format not in ("POSITIONAL", "NAMED"):
        raise template_error(
            "Invalid parameter format", "Param parameter_format must be POSITIONAL or NAMED."
        )
    for component in components:
        text = component.get("text", "") or ""
        if str(component.get("type", "")).upper() == "BODY" and (
            _PLACEHOLDER.match(text.strip()) or re.search(r"\{\{\s*[A-Za-z0-9_]+\s*\}\}$", text.strip())
        ):
            raise template_error(
                "Variables can't be at the start or end of the template",
                "The body text starts or ends with a variable; add text before the first variable "
                "and after the last one.",
                subcode=2388299,
            )
        variables = placeholders(component.get("text", ""))
        if parameter_format == "POSITIONAL" and variables != [str(i) for i in range(1, len(variables) + 1)]:
            raise template_error(
                "Invalid variables", "Positional variables must be numbered {{1}}, {{2}}, ... in order."
            )
    normalized = [{**c, "type": kind} for c, kind in zip(components, kinds, strict=True)]
    return {
        "name": name,
        "language": language,
        "category": category,
        "parameter_format": parameter_format,
        "components": normalized,
    }


def _check_component(component: dict[str, Any], kind: str) -> None:
    text = component.get("text")
    if kind == "BODY":
        if not isinstance(text, str) or not text.strip():
            raise template_error("Missing body text", "The BODY component needs text.")
        if len(text) > 1024:
            raise template_error(
                "Character Limit Hit", "BODY text can have at most 1024 characters.", 2388040
            )
    elif kind == "HEADER":
        header_format = str(component.get("format", "")).upper()
        if header_format not in HEADER_FORMATS:
            raise template_error(
                "Header Format Incorrect",
                f"HEADER format must be one of {{{', '.join(HEADER_FORMATS)}}}.",
                2388047,
            )
        if header_format == "TEXT" and (
            not isinstance(text, str) or len(text) > 60 or len(placeholders(text)) > 1
        ):
            raise template_error(
                "Header Format Incorrect",
                "A TEXT header has at most 60 characters and one variable.",
                2388047,
            )
    elif kind == "FOOTER":
        if not isinstance(text, str) or len(text) > 60 or placeholders(text):
            raise template_error("Invalid footer", "FOOTER text has at most 60 characters and no variables.")
    else:
        buttons = component.get("buttons")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 10:
            raise template_error("Invalid buttons", "BUTTONS has between 1 and 10 buttons.")
        for button in buttons:
            if not isinstance(button, dict) or str(button.get("type", "")).upper() not in BUTTON_TYPES:
                raise template_error(
                    "Invalid buttons", f"Button type must be one of {{{', '.join(BUTTON_TYPES)}}}."
                )
            if len(str(button.get("text", ""))) > 25:
                raise template_error(
                    "Character Limit Hit", "Button text can have at most 25 characters.", 2388040
                )


def review(template: dict[str, Any]) -> tuple[str, str, dict[str, str] | None]:
    """The automatic review: (event, reason, rejection_info). Variables placed next to each
    other are rejected, as Meta's review does; everything else is approved."""
    for component in template["components"]:
        if _ADJACENT.search(component.get("text", "") or ""):
            return (
                "REJECTED",
                "INVALID_FORMAT",
                {
                    "reason": "Your template has parameters placed next to each other (like {{1}}{{2}}) "
                    "without text or punctuation between them.",
                    "recommendation": "Separate parameters with descriptive text.",
                },
            )
    return "APPROVED", "NONE", None


# -- listing ------------------------------------------------------------------------
def _cursor(order: int) -> str:
    return base64.urlsafe_b64encode(f"tpl:{order}".encode()).decode().rstrip("=")


def _order_of(cursor: str) -> int:
    try:
        decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, order = decoded.split(":")
        if prefix != "tpl":
            raise ValueError(cursor)
        return int(order)
    except (ValueError, UnicodeDecodeError):
        raise invalid("Param after/before is not a valid cursor.") from None


def list_page(templates: list[dict[str, Any]], query: dict[str, str], base_url: str) -> dict[str, Any]:
    """Filter, project and page templates the way Graph pages an edge."""
    fields = [f.strip() for f in query.get("fields", "").split(",") if f.strip()] or list(DEFAULT_FIELDS)
    unknown = [f for f in fields if f not in KNOWN_FIELDS]
    if unknown:
        raise nonexisting_field(unknown[0], "WhatsAppBusinessAccount")
    if "id" not in fields:
        fields.append("id")
    try:
        limit = int(query.get("limit", "25"))
    except ValueError:
        raise invalid("Param limit must be an integer.") from None
    if not 1 <= limit <= 1000:
        raise invalid("Param limit must be between 1 and 1000.")
    selected = templates
    for key in ("status", "category", "language"):
        if key in query:
            wanted = {v.strip().upper() if key != "language" else v.strip() for v in query[key].split(",")}
            selected = [t for t in selected if t[key] in wanted]
    if "name" in query:
        selected = [t for t in selected if query["name"] in t["name"]]
    if "after" in query:
        after = _order_of(query["after"])
        page = [t for t in selected if t["_order"] > after][:limit]
    elif "before" in query:
        before = _order_of(query["before"])
        page = [t for t in selected if t["_order"] < before][-limit:]
    else:
        page = selected[:limit]
    result: dict[str, Any] = {
        "data": [{f: t[f] for f in fields if f in t and not f.startswith("_")} for t in page]
    }
    if page:
        first, last = page[0]["_order"], page[-1]["_order"]
        paging: dict[str, Any] = {"cursors": {"before": _cursor(first), "after": _cursor(last)}}
        kept = {k: v for k, v in query.items() if k not in ("after", "before")}
        if any(t["_order"] < first for t in selected):
            paging["previous"] = f"{base_url}?{urlencode({**kept, 'before': _cursor(first)})}"
        if any(t["_order"] > last for t in selected):
            paging["next"] = f"{base_url}?{urlencode({**kept, 'after': _cursor(last)})}"
        result["paging"] = paging
    return result


# -- sending ------------------------------------------------------------------------
# What a currency / date_time parameter object must carry (Meta's template message reference).
_PARAMETER_FIELDS = {
    "currency": ("fallback_value", "code", "amount_1000"),
    "date_time": ("fallback_value",),
}


def _check_parameter_object(parameter: dict[str, Any], where: str) -> None:
    kind = parameter["type"]
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


def _check_button_component(component: dict[str, Any], index: int) -> None:
    """A button component names the button it fills: ``sub_type`` and ``index`` (0-9)."""
    where = f"template['components'][{index}]"
    for key in ("sub_type", "index"):
        if component.get(key) in (None, ""):
            raise missing(f"{where}['{key}']")
    position = component["index"]
    if isinstance(position, bool) or not str(position).isdigit() or not 0 <= int(position) <= 9:
        raise invalid(f"Param {where}['index'] must be a button position from 0 to 9.")


def check_send(template: dict[str, Any] | None, name: str, language: str, components: list[Any]) -> None:
    """Refuse a template send the way Meta does: unknown/unapproved (132001), paused
    (132015), disabled (132016), wrong parameter count (132000) or format (132012)."""
    if template is None or template["status"] not in ("APPROVED", "PAUSED", "DISABLED"):
        raise GraphError(132001, f"template name ({name}) does not exist in {language}")
    if template["status"] == "PAUSED":
        raise GraphError(132015, f"Template {name} is paused.")
    if template["status"] == "DISABLED":
        raise GraphError(132016, f"Template {name} is disabled.")
    given: dict[str, list[Any]] = {}
    for index, component in enumerate(components):
        kind = str(component.get("type", "")).lower()
        parameters = component.get("parameters", [])
        if not isinstance(parameters, list):
            raise invalid(f"Param template['components'][{index}]['parameters'] must be an array.")
        for p_index, parameter in enumerate(parameters):
            where = f"template['components'][{index}]['parameters'][{p_index}]"
            if not isinstance(parameter, dict) or "type" not in parameter:
                raise missing(f"{where}['type']")
            if parameter["type"] == "text" and not isinstance(parameter.get("text"), str):
                raise missing(f"{where}['text']")
            _check_parameter_object(parameter, where)
        if kind == "button":
            _check_button_component(component, index)
        if kind in ("body", "header"):
            given[kind] = parameters
    named = template.get("parameter_format") == "NAMED"
    for kind in ("header", "body"):
        component = _component(template, kind.upper())
        sent = given.get(kind, [])
        if component is None:
            if sent:
                raise GraphError(132000, f"{kind}: the template has no {kind.upper()} component")
            continue
        header_format = str(component.get("format", "TEXT")).upper()
        if kind == "header" and header_format in ("IMAGE", "VIDEO", "DOCUMENT", "LOCATION"):
            received = sent[0].get("type", "unknown").upper() if sent else "NONE"
            if received != header_format:
                raise GraphError(
                    132012, f"header: Format mismatch, expected {header_format}, received {received}"
                )
            continue
        expected = placeholders(component.get("text", ""))
        if len(sent) != len(expected):
            raise GraphError(
                132000,
                f"{kind}: number of localizable_params ({len(sent)}) does not match the expected number "
                f"of params ({len(expected)})",
            )
        if named:
            names = {p.get("parameter_name") for p in sent}
            if names != set(expected):
                raise GraphError(
                    132000, f"{kind}: parameter names {sorted(map(str, names))} do not match {expected}"
                )
