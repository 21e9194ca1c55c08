"""Meta's analytics of the WhatsApp Business Account, computed from the sandbox's own record
of sends (``State.messages``, ``State.conversations``, ``State.inbound``):

* ``analytics``: messages sent and delivered (counted at their ``sent`` and ``delivered``
  statuses), per ``HALF_HOUR``, ``DAY`` or ``MONTH``;
* ``pricing_analytics``: delivered messages (``volume``) and their ``cost`` under per-message
  pricing, by ``PRICING_CATEGORY``, ``PRICING_TYPE``, ``COUNTRY`` and ``PHONE``;
* ``conversation_analytics``: conversations opened and their cost;
* ``template_analytics``: per template and day, sent, delivered, read, quick-reply clicks and
  cost.

Prices are the sandbox's (:data:`PRICES`, close to Meta's US rates in USD); Meta's own vary by
country and volume tier."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from .graph_errors import GraphError, invalid_parameter

#: USD per billable delivered message (per-message pricing) or conversation, by category.
PRICES = {"marketing": 0.025, "utility": 0.004, "authentication": 0.0135}
MESSAGING_GRANULARITIES = {"HALF_HOUR": "half_hour", "DAY": "day", "MONTH": "month"}
GRANULARITIES = {"HALF_HOUR": "half_hour", "DAILY": "day", "MONTHLY": "month"}
PRICING_DIMENSIONS = ("PRICING_CATEGORY", "PRICING_TYPE", "COUNTRY", "PHONE", "TIER")
CONVERSATION_DIMENSIONS = ("CONVERSATION_CATEGORY", "CONVERSATION_TYPE", "COUNTRY", "PHONE")
TEMPLATE_METRICS = ("SENT", "DELIVERED", "READ", "CLICKED", "COST")
FIELDS = ("analytics", "pricing_analytics", "conversation_analytics")
MAX_BUCKETS = 10_000
_MODIFIER = re.compile(r"\.([a-z_]+)\(([^()]*)\)")


# -- reading Graph's field expressions --------------------------------------------------------
def split_fields(text: str) -> list[str]:
    """``fields`` split on the commas outside parentheses and brackets."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts


def parse_field(expression: str) -> tuple[str, dict[str, str]]:
    """``analytics.start(1).end(2)`` -> ``("analytics", {"start": "1", "end": "2"})``."""
    name, _, rest = expression.partition(".")
    modifiers = {key: value for key, value in _MODIFIER.findall("." + rest)} if rest else {}
    return name, modifiers


def _required(name: str, field: str) -> GraphError:
    text = f"The parameter {name} is required for {field}."
    return GraphError(100, text, message=f"(#100) {text}")


def _time(modifiers: dict[str, str], name: str, field: str) -> int:
    if name not in modifiers:
        raise _required(name, field)
    if not modifiers[name].isdigit():
        raise invalid_parameter(f"Param {name} of {field} must be a Unix timestamp.")
    return int(modifiers[name])


def _list(
    modifiers: dict[str, str], name: str, field: str, allowed: Iterable[str] | None = None
) -> list[Any]:
    if name not in modifiers:
        return []
    try:
        values = json.loads(modifiers[name])
    except ValueError:
        values = None
    if not isinstance(values, list):
        raise invalid_parameter(f"Param {name} of {field} must be a JSON array.")
    allowed = tuple(allowed) if allowed is not None else None
    for value in values:
        if allowed is not None and value not in allowed:
            raise invalid_parameter(f"Param {name} of {field} must hold only {{{', '.join(allowed)}}}.")
    return values


def _window(modifiers: dict[str, str], field: str, granularities: dict[str, str]) -> tuple[int, int, str]:
    start, end = _time(modifiers, "start", field), _time(modifiers, "end", field)
    if end <= start:
        raise invalid_parameter(f"Param end of {field} must be after start.")
    if "granularity" not in modifiers:
        raise _required("granularity", field)
    granularity = modifiers["granularity"]
    if granularity not in granularities:
        raise invalid_parameter(
            f"Param granularity of {field} must be one of {{{', '.join(granularities)}}}."
        )
    return start, end, granularity


# -- buckets and facts ----------------------------------------------------------------------------
def bucket_of(moment: float, unit: str) -> tuple[int, int]:
    """The UTC half hour, day or month holding ``moment``, as ``(start, end)`` seconds."""
    seconds = int(moment)
    if unit == "half_hour":
        start = seconds - seconds % 1800
        return start, start + 1800
    if unit == "day":
        start = seconds - seconds % 86400
        return start, start + 86400
    day = datetime.fromtimestamp(seconds, tz=timezone.utc)
    first = day.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (
        first.replace(year=first.year + 1, month=1)
        if first.month == 12
        else first.replace(month=first.month + 1)
    )
    return int(first.timestamp()), int(following.timestamp())


def _stage_time(record: dict[str, Any], stage: str) -> float | None:
    for status in record.get("statuses", ()):
        if status["status"] == stage:
            return float(status["timestamp"])
    return None


def _country(wa_id: str) -> str:
    try:
        from ..phone import parse

        return parse("+" + wa_id).region or "ZZ"
    except Exception:  # an id the phone library cannot read still counts somewhere
        return "ZZ"


def _cost(record: dict[str, Any]) -> float:
    pricing = record.get("pricing") or {}
    return PRICES.get(pricing.get("category", ""), 0.0) if pricing.get("billable") else 0.0


def _group(
    facts: Iterable[tuple[float, dict[str, Any], dict[str, float]]],
    start: int,
    end: int,
    unit: str,
    keep: Callable[[dict[str, Any]], dict[str, Any]],
) -> list[dict[str, Any]]:
    """Sum ``(time, dimensions, figures)`` facts in ``[start, end)`` per bucket and kept dimensions."""
    sums: dict[tuple[Any, ...], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for moment, dimensions, figures in facts:
        if not start <= moment < end:
            continue
        kept = keep(dimensions)
        key = (*bucket_of(moment, unit), *sorted(kept.items()))
        for name, value in figures.items():
            sums[key][name] += value
    points = []
    for key in sorted(sums):
        bucket_start, bucket_end, *dims = key
        points.append({"start": bucket_start, "end": bucket_end, **dict(dims), **sums[key]})
    return points


# -- the three WABA fields --------------------------------------------------------------------------
def messaging(core: Any, modifiers: dict[str, str]) -> dict[str, Any]:
    start, end, granularity = _window(modifiers, "analytics", MESSAGING_GRANULARITIES)
    unit = MESSAGING_GRANULARITIES[granularity]
    numbers = [str(n) for n in _list(modifiers, "phone_numbers", "analytics")]
    countries = _list(modifiers, "country_codes", "analytics")
    display = core.config.display_phone_number
    counts: dict[tuple[int, int], dict[str, int]] = {}
    moment = start
    while moment < end:  # every bucket of the range, empty ones too, as Meta answers
        bucket = bucket_of(moment, unit)
        counts[bucket] = {"sent": 0, "delivered": 0}
        moment = bucket[1]
        if len(counts) > MAX_BUCKETS:
            raise invalid_parameter("The range holds too many buckets for this granularity.")
    if not numbers or display in numbers:
        for record in core.state.messages.values():
            if countries and _country(record["wa_id"]) not in countries:
                continue
            for stage in ("sent", "delivered"):
                at = _stage_time(record, stage) or (
                    _stage_time(record, "read") if stage == "delivered" else None
                )
                if at is not None and start <= at < end:
                    counts[bucket_of(at, unit)][stage] += 1
    points = [{"start": s, "end": e, **figures} for (s, e), figures in sorted(counts.items())]
    answer: dict[str, Any] = {"granularity": granularity, "data_points": points}
    if numbers:
        answer["phone_numbers"] = numbers
    if countries:
        answer["country_codes"] = countries
    return answer


def pricing(core: Any, modifiers: dict[str, str]) -> dict[str, Any]:
    start, end, granularity = _window(modifiers, "pricing_analytics", GRANULARITIES)
    dimensions = _list(modifiers, "dimensions", "pricing_analytics", PRICING_DIMENSIONS)
    numbers = [str(n) for n in _list(modifiers, "phone_numbers", "pricing_analytics")]
    countries = _list(modifiers, "country_codes", "pricing_analytics")
    display = core.config.display_phone_number
    facts = []
    for record in core.state.messages.values():
        delivered = _stage_time(record, "delivered") or _stage_time(record, "read")
        if delivered is None or (numbers and display not in numbers):
            continue
        country = _country(record["wa_id"])
        if countries and country not in countries:
            continue
        pricing_info = record.get("pricing") or {}
        facts.append(
            (
                delivered,
                {
                    "pricing_category": str(pricing_info.get("category", "service")).upper(),
                    "pricing_type": str(pricing_info.get("type", "regular")).upper(),
                    "country": country,
                    "phone_number": display,
                },
                {"volume": 1, "cost": _cost(record)},
            )
        )
    wanted = {"PRICING_CATEGORY": "pricing_category", "PRICING_TYPE": "pricing_type", "COUNTRY": "country",
              "PHONE": "phone_number"}  # fmt: skip
    keep = [wanted[d] for d in dimensions if d in wanted]
    points = _group(facts, start, end, GRANULARITIES[granularity], lambda d: {k: d[k] for k in keep})
    for point in points:
        point["volume"] = int(point["volume"])
        point["cost"] = round(point["cost"], 6)
    return {"data": [{"data_points": points}]}


def conversations(core: Any, modifiers: dict[str, str]) -> dict[str, Any]:
    start, end, granularity = _window(modifiers, "conversation_analytics", GRANULARITIES)
    dimensions = _list(modifiers, "dimensions", "conversation_analytics", CONVERSATION_DIMENSIONS)
    display = core.config.display_phone_number
    # A conversation costs what its billable messages cost (free ones, in a window, nothing).
    spent: dict[str, float] = defaultdict(float)
    for record in core.state.messages.values():
        if record.get("conversation_id"):
            spent[record["conversation_id"]] += _cost(record)
    facts = []
    for conversation in core.state.conversations.values():
        category = str(conversation["category"])
        facts.append(
            (
                conversation["opened_at"],
                {
                    "conversation_category": category.upper(),
                    "conversation_type": "FREE_ENTRY_POINT"
                    if category == "referral_conversion"
                    else "REGULAR",
                    "country": _country(conversation["wa_id"]),
                    "phone_number": display,
                },
                {"conversation": 1, "cost": spent[conversation["id"]]},
            )
        )
    wanted = {"CONVERSATION_CATEGORY": "conversation_category", "CONVERSATION_TYPE": "conversation_type",
              "COUNTRY": "country", "PHONE": "phone_number"}  # fmt: skip
    keep = [wanted[d] for d in dimensions]
    points = _group(facts, start, end, GRANULARITIES[granularity], lambda d: {k: d[k] for k in keep})
    for point in points:
        point["conversation"] = int(point["conversation"])
        point["cost"] = round(point["cost"], 6)
    return {"data": [{"data_points": points}]}


ANSWERS: dict[str, Callable[[Any, dict[str, str]], dict[str, Any]]] = {
    "analytics": messaging,
    "pricing_analytics": pricing,
    "conversation_analytics": conversations,
}


# -- template_analytics -------------------------------------------------------------------------------
def _json_list(query: Any, name: str, required: bool) -> list[Any]:
    if name not in query:
        if required:
            text = f"The parameter {name} is required."
            raise GraphError(100, text, message=f"(#100) {text}")
        return []
    try:
        values = json.loads(query[name])
    except ValueError:
        values = [v.strip() for v in query[name].split(",") if v.strip()]
    if not isinstance(values, list):
        values = [values]
    return [str(v) for v in values]


def template_analytics(core: Any, query: Any) -> dict[str, Any]:
    for name in ("start", "end", "granularity"):
        if not query.get(name):
            text = f"The parameter {name} is required."
            raise GraphError(100, text, message=f"(#100) {text}")
    if query["granularity"] != "DAILY":
        raise invalid_parameter("Param granularity must be one of {DAILY}.")
    if not query["start"].isdigit() or not query["end"].isdigit() or int(query["end"]) <= int(query["start"]):
        raise invalid_parameter("Params start and end must be Unix timestamps, end after start.")
    start, end = int(query["start"]), int(query["end"])
    ids = _json_list(query, "template_ids", required=True)
    if not 1 <= len(ids) <= 10:
        raise invalid_parameter("Param template_ids must hold 1 to 10 template ids.")
    metrics = _json_list(query, "metric_types", required=False) or list(TEMPLATE_METRICS)
    unknown = [m for m in metrics if m not in TEMPLATE_METRICS]
    if unknown:
        raise invalid_parameter(f"Param metric_types must hold only {{{', '.join(TEMPLATE_METRICS)}}}.")
    by_name = {(t["name"], t["language"]): t["id"] for t in core.state.templates.values()}
    days: dict[tuple[str, int], dict[str, Any]] = {}

    def day(template_id: str, moment: float) -> dict[str, Any] | None:
        if template_id not in ids or not start <= moment < end:
            return None
        bucket = bucket_of(moment, "day")
        return days.setdefault(
            (template_id, bucket[0]),
            {"template_id": template_id, "start": bucket[0], "end": bucket[1], "sent": 0, "delivered": 0,
             "read": 0, "clicks": defaultdict(int), "spent": 0.0},
        )  # fmt: skip

    template_of: dict[str, str] = {}
    for record in core.state.messages.values():
        if record["type"] != "template":
            continue
        template = record["payload"].get("template") or {}
        template_id = by_name.get((template.get("name"), (template.get("language") or {}).get("code")))
        if template_id is None:
            continue
        template_of[record["id"]] = template_id
        for stage in ("sent", "delivered", "read"):
            at = _stage_time(record, stage)
            point = day(template_id, at) if at is not None else None
            if point is not None:
                point[stage] += 1
                if stage == "delivered":
                    point["spent"] += _cost(record)
    for received in core.state.inbound.values():
        message = received["message"]
        template_id = template_of.get((message.get("context") or {}).get("id", ""))
        point = (
            day(template_id, received["timestamp"]) if template_id and message["type"] == "button" else None
        )
        if point is not None:
            point["clicks"][message["button"]["text"]] += 1
    points = []
    for key in sorted(days):
        raw = days[key]
        point: dict[str, Any] = {"template_id": raw["template_id"], "start": raw["start"], "end": raw["end"]}
        for metric, name in (("SENT", "sent"), ("DELIVERED", "delivered"), ("READ", "read")):
            if metric in metrics:
                point[name] = raw[name]
        if "CLICKED" in metrics:
            point["clicked"] = [
                {"type": "quick_reply_button", "button_content": text, "count": count}
                for text, count in sorted(raw["clicks"].items())
            ]
        if "COST" in metrics:
            spent = round(raw["spent"], 6)
            per = round(spent / raw["delivered"], 6) if raw["delivered"] else 0.0
            point["cost"] = [
                {"type": "amount_spent", "value": spent},
                {"type": "cost_per_delivered", "value": per},
            ]
        points.append(point)
    return {"data": [{"granularity": "DAILY", "product_type": "cloud_api", "data_points": points}]}
