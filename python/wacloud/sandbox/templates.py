"""Message templates: creation checks, the review outcome, listing with Graph
paging, and the checks made when a template message is sent."""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import urlencode

from .graph_errors import GraphError, invalid, nonexisting_field
from .template_sends import check_send, placeholders  # noqa: F401  (check_send: the core calls it here)

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
# A URL button's variable, if any, ends its url.
_URL_SUFFIX = re.compile(r"(^[^{}]*$)|(\{\{\s*[A-Za-z0-9_]+\s*\}\}$)")


def template_error(title: str, message: str, subcode: int | None = None) -> GraphError:
    """Template management errors carry a user title and message instead of error_data."""
    return GraphError(
        100,
        message="Invalid parameter",
        subcode=subcode,
        extra={"is_transient": False, "error_user_title": title, "error_user_msg": message},
        with_error_data=False,
    )


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
    parameter_format = str(body.get("parameter_format", "POSITIONAL")).upper()
    if parameter_format not in ("POSITIONAL", "NAMED"):
        raise template_error(
            "Invalid parameter format", "Param parameter_format must be POSITIONAL or NAMED."
        )
    return {
        "name": name,
        "language": language,
        "category": category,
        "parameter_format": parameter_format,
        "components": validate_components(body.get("components"), parameter_format),
    }


def validate_components(components: Any, parameter_format: str) -> list[dict[str, Any]]:
    """Check a template's components (at creation or an edit); return them with upper-case types."""
    if not isinstance(components, list) or not all(isinstance(c, dict) for c in components):
        raise template_error("Missing components", "Param components must be an array of objects.")
    kinds = [str(c.get("type", "")).upper() for c in components]
    if "CAROUSEL" in kinds:
        if sorted(kinds) != ["BODY", "CAROUSEL"]:
            raise template_error("Invalid components", "A carousel template has one BODY and one CAROUSEL.")
    elif kinds.count("BODY") != 1 or any(k not in ("HEADER", "BODY", "FOOTER", "BUTTONS") for k in kinds):
        raise template_error(
            "Invalid components", "A template has exactly one BODY and optional HEADER, FOOTER and BUTTONS."
        )
    normalized = []
    for component, kind in zip(components, kinds, strict=True):
        if kind == "CAROUSEL":
            normalized.append({**component, "type": kind, "cards": _check_carousel(component)})
        else:
            _check_component(component, kind)
            normalized.append({**component, "type": kind})
    texts = [c for c in normalized if c["type"] != "CAROUSEL"]
    for carousel in (c for c in normalized if c["type"] == "CAROUSEL"):
        texts += [inner for card in carousel["cards"] for inner in card["components"]]
    for component in texts:
        _check_variables(component, parameter_format)
    return normalized


def _check_variables(component: dict[str, Any], parameter_format: str) -> None:
    text = component.get("text", "") or ""
    if component["type"] == "BODY" and (
        _PLACEHOLDER.match(text.strip()) or re.search(r"\{\{\s*[A-Za-z0-9_]+\s*\}\}$", text.strip())
    ):
        raise template_error(
            "Variables can't be at the start or end of the template",
            "The body text starts or ends with a variable; add text before the first variable "
            "and after the last one.",
            subcode=2388299,
        )
    variables = placeholders(text)
    if parameter_format == "POSITIONAL" and variables != [str(i) for i in range(1, len(variables) + 1)]:
        raise template_error(
            "Invalid variables", "Positional variables must be numbered {{1}}, {{2}}, ... in order."
        )


def _check_carousel(component: dict[str, Any]) -> list[dict[str, Any]]:
    """1 to 10 cards, each an image or video HEADER, an optional BODY (160 characters) and 1 or 2
    QUICK_REPLY, URL or PHONE_NUMBER buttons; every card shaped like the others."""
    cards = component.get("cards")
    if (
        not isinstance(cards, list)
        or not 1 <= len(cards) <= 10
        or not all(isinstance(c, dict) for c in cards)
    ):
        raise template_error("Invalid carousel", "A CAROUSEL has 1 to 10 cards.")
    shapes, normalized = set(), []
    for card in cards:
        parts = card.get("components")
        if not isinstance(parts, list) or not all(isinstance(p, dict) for p in parts):
            raise template_error("Invalid carousel", "Each card needs its components.")
        kinds = [str(p.get("type", "")).upper() for p in parts]
        header = next((p for p in parts if str(p.get("type", "")).upper() == "HEADER"), {})
        header_format = str(header.get("format", "")).upper()
        if sorted(set(kinds)) not in (["BUTTONS", "HEADER"], ["BODY", "BUTTONS", "HEADER"]) or len(
            kinds
        ) != len(set(kinds)):
            raise template_error("Invalid carousel", "Each card has a HEADER, an optional BODY and BUTTONS.")
        if header_format not in ("IMAGE", "VIDEO"):
            raise template_error("Invalid carousel", "A card's HEADER is an IMAGE or a VIDEO.", 2388047)
        body = next((p for p in parts if str(p.get("type", "")).upper() == "BODY"), None)
        if body is not None and (not isinstance(body.get("text"), str) or len(body["text"]) > 160):
            raise template_error("Character Limit Hit", "A card's BODY has at most 160 characters.", 2388040)
        buttons = next(p for p in parts if str(p.get("type", "")).upper() == "BUTTONS").get("buttons")
        kinds_of_buttons = tuple(str(b.get("type", "")).upper() for b in buttons or [] if isinstance(b, dict))
        if not 1 <= len(kinds_of_buttons) <= 2 or not set(kinds_of_buttons) <= {
            "QUICK_REPLY",
            "URL",
            "PHONE_NUMBER",
        }:
            raise template_error(
                "Invalid carousel", "A card has 1 or 2 QUICK_REPLY, URL or PHONE_NUMBER buttons."
            )
        for part, kind in zip(parts, kinds, strict=True):
            if kind != "HEADER":
                _check_component(part, kind)
        shapes.add((header_format, kinds_of_buttons))
        normalized.append(
            {**card, "components": [{**p, "type": k} for p, k in zip(parts, kinds, strict=True)]}
        )
    if len(shapes) > 1:
        raise template_error(
            "Invalid carousel", "Every card has the same header format and the same buttons."
        )
    return normalized


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
            url = str(button.get("url", ""))
            if str(button["type"]).upper() == "URL" and (
                not re.match(r"^https?://\S+$", url)
                or len(placeholders(url)) > 1
                or not _URL_SUFFIX.search(url)
            ):
                raise template_error(
                    "Invalid buttons",
                    "A URL button needs an http(s) url, with at most one variable, at its end.",
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


# -- a template by id ---------------------------------------------------------------------------
EDITABLE_STATUSES = ("APPROVED", "REJECTED", "PAUSED")
EDITABLE_KEYS = frozenset({"category", "components", "name", "language", "message_send_ttl_seconds"})
DAY = 24 * 3600
EDIT_WINDOW, EDITS_PER_WINDOW = 30 * DAY, 10


def template_node(template: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    """``GET /<TEMPLATE_ID>``: the default fields, or those ``?fields=`` names."""
    fields = [f.strip() for f in query.get("fields", "").split(",") if f.strip()] or list(DEFAULT_FIELDS)
    unknown = [f for f in fields if f not in KNOWN_FIELDS]
    if unknown:
        raise nonexisting_field(unknown[0], "WhatsAppBusinessHSM")
    fields += [] if "id" in fields else ["id"]
    return {f: template[f] for f in fields if f in template}


def validate_edit(template: dict[str, Any], body: dict[str, Any], now: float) -> dict[str, Any]:
    """Check an edit (``POST /<TEMPLATE_ID>``) by Meta's rules; return the changes to make.
    Only APPROVED, REJECTED or PAUSED templates, not a LOCKED one; only the category and the
    components (which replace all the old ones); not the category of an approved template; an
    approved template at most once in 24 hours and 10 times in 30 days."""
    status = template["status"]
    if status not in EDITABLE_STATUSES or template.get("_locked"):
        state = "LOCKED" if template.get("_locked") else status
        raise template_error(
            "Template can't be edited",
            f"Only APPROVED, REJECTED or PAUSED templates that are not locked can be edited; "
            f"this one is {state}.",
        )
    stray = sorted(set(body) - EDITABLE_KEYS)
    fixed = [key for key in ("name", "language") if key in body and body[key] != template[key]]
    if stray or fixed:
        raise template_error(
            "Invalid edit",
            f"Only the category and the components of a template can be edited, not {(stray + fixed)[0]}.",
        )
    if "components" not in body and "category" not in body:
        raise template_error("Missing components", "An edit changes the category, the components or both.")
    changes: dict[str, Any] = {}
    if "category" in body:
        category = str(body["category"]).upper()
        if category not in CATEGORIES:
            raise template_error(
                "Invalid category", f"Param category must be one of {{{', '.join(CATEGORIES)}}}."
            )
        if status == "APPROVED" and category != template["category"]:
            raise template_error(
                "Category can't be changed", "You cannot edit the category of an approved template."
            )
        changes["category"] = category
    if "components" in body:
        changes["components"] = validate_components(
            body["components"], template.get("parameter_format", "POSITIONAL")
        )
    if status == "APPROVED":  # rejected and paused templates may be edited without limit
        edits = [at for at in template.get("_edits", []) if now - at < EDIT_WINDOW]
        if any(now - at < DAY for at in edits) or len(edits) >= EDITS_PER_WINDOW:
            raise template_error(
                "Edit limit reached",
                "An approved template can be edited once in 24 hours and 10 times in 30 days.",
            )
        changes["_edits"] = [*edits, now]
    return changes
