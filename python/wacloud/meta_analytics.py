"""Meta's own figures for the WhatsApp Business Account, as :class:`wacloud.Client` methods:
messages sent and delivered (``analytics``), conversations and their cost
(``conversation_analytics``), billed messages and their cost under per-message pricing
(``pricing_analytics``) and per-template sends, deliveries, reads, clicks and cost
(``template_analytics``). Times are UTC; a range is ``start`` to ``end`` as datetimes, dates
or Unix seconds.

>>> for point in client.get_pricing_analytics(start, end, dimensions=["PRICING_CATEGORY"]):
...     print(point.start.date(), point.pricing_category, point.volume, point.cost)  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from typing import Any

from . import _graph

__all__ = [
    "ConversationDataPoint",
    "MessagingDataPoint",
    "MetaAnalytics",
    "PricingDataPoint",
    "TemplateDataPoint",
]

MESSAGING_GRANULARITIES = ("HALF_HOUR", "DAY", "MONTH")
GRANULARITIES = ("HALF_HOUR", "DAILY", "MONTHLY")
CONVERSATION_DIMENSIONS = ("CONVERSATION_CATEGORY", "CONVERSATION_TYPE", "COUNTRY", "PHONE")
PRICING_DIMENSIONS = ("PRICING_CATEGORY", "PRICING_TYPE", "COUNTRY", "PHONE", "TIER")
TEMPLATE_METRICS = ("SENT", "DELIVERED", "READ", "CLICKED", "COST")
#: Meta's limit on template ids per template_analytics request.
MAX_TEMPLATE_IDS = 10

Moment = datetime | date | int | float


def _utc(seconds: Any) -> datetime:
    return datetime.fromtimestamp(int(seconds), tz=timezone.utc)


@dataclass(frozen=True)
class MessagingDataPoint:
    start: datetime
    end: datetime
    sent: int
    delivered: int


@dataclass(frozen=True)
class ConversationDataPoint:
    """Conversations opened in ``[start, end)`` and what they cost; the dimension fields are
    set for the dimensions asked."""

    start: datetime
    end: datetime
    conversation: int
    cost: float
    conversation_category: str | None = None
    conversation_type: str | None = None
    country: str | None = None
    phone_number: str | None = None


@dataclass(frozen=True)
class PricingDataPoint:
    """Messages delivered in ``[start, end)`` (``volume``) and their ``cost`` under
    per-message pricing; the dimension fields are set for the dimensions asked."""

    start: datetime
    end: datetime
    volume: int
    cost: float
    pricing_category: str | None = None
    pricing_type: str | None = None
    country: str | None = None
    phone_number: str | None = None
    tier: str | None = None


@dataclass(frozen=True)
class TemplateDataPoint:
    """One template's day: ``sent``, ``delivered``, ``read``, button clicks (``clicked``:
    ``(button type, button text, count)``) and ``cost`` (``amount_spent``,
    ``cost_per_delivered``, ...)."""

    template_id: str
    start: datetime
    end: datetime
    sent: int = 0
    delivered: int = 0
    read: int = 0
    clicked: tuple[tuple[str, str, int], ...] = ()
    cost: dict[str, float] = field(default_factory=dict)


def _span(point: dict[str, Any]) -> tuple[datetime, datetime]:
    return _utc(point["start"]), _utc(point["end"])


def _dimensions(point: dict[str, Any], names: tuple[str, ...]) -> dict[str, str | None]:
    return {name: point.get(name) for name in names}


def _template_point(point: dict[str, Any]) -> TemplateDataPoint:
    clicks = tuple(
        (c.get("type", ""), c.get("button_content", ""), int(c.get("count", 0)))
        for c in point.get("clicked") or []
    )
    cost = {c["type"]: float(c.get("value", 0)) for c in point.get("cost") or [] if "type" in c}
    return TemplateDataPoint(
        str(point.get("template_id", "")),
        *_span(point),
        sent=int(point.get("sent", 0)),
        delivered=int(point.get("delivered", 0)),
        read=int(point.get("read", 0)),
        clicked=clicks,
        cost=cost,
    )


def _seconds(value: Any, name: str) -> int:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return int(moment.timestamp())
    if isinstance(value, date):
        return int(datetime.combine(value, time(), tzinfo=timezone.utc).timestamp())
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return int(value)
    raise _graph.refuse(name, "must be a datetime, a date or Unix seconds")


def _range(start: Any, end: Any) -> tuple[int, int]:
    begin, finish = _seconds(start, "start"), _seconds(end, "end")
    if finish <= begin:
        raise _graph.refuse("end", "must be after start")
    return begin, finish


def _names(values: Iterable[str] | None, name: str, allowed: tuple[str, ...] | None = None) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    found = list(values)
    for value in found:
        if not isinstance(value, str) or not value:
            raise _graph.refuse(name, "must hold non-empty strings")
        if allowed is not None and value not in allowed:
            raise _graph.refuse(name, f"must hold only {', '.join(allowed)}, not {value!r}")
    return found


def _field(name: str, start: int, end: int, granularity: str, **lists: list[Any]) -> str:
    """Graph's field expansion: ``name.start(1).end(2).granularity(DAY).dimensions([...])``."""
    expression = f"{name}.start({start}).end({end}).granularity({granularity})"
    for key, values in lists.items():
        if values:
            expression += f".{key}({json.dumps(values, separators=(',', ':'))})"
    return expression


class MetaAnalytics:
    """Meta's analytics of the WhatsApp Business Account (``waba_id``)."""

    _core: Any
    phone_number_id: str
    waba_id: str | None

    def get_messaging_analytics(
        self,
        start: Moment,
        end: Moment,
        granularity: str = "DAY",
        phone_numbers: Sequence[str] | None = None,
        country_codes: Sequence[str] | None = None,
    ) -> list[MessagingDataPoint]:
        """Messages sent and delivered per ``HALF_HOUR``, ``DAY`` or ``MONTH``."""
        begin, finish = _range(start, end)
        expression = _field(
            "analytics",
            begin,
            finish,
            _graph.choice(granularity, "granularity", MESSAGING_GRANULARITIES),
            phone_numbers=_names(phone_numbers, "phone_numbers"),
            country_codes=_names(country_codes, "country_codes"),
        )
        node = self._waba_field(expression, "analytics")
        return [
            MessagingDataPoint(*_span(p), sent=int(p.get("sent", 0)), delivered=int(p.get("delivered", 0)))
            for p in node.get("data_points") or []
        ]

    def get_conversation_analytics(
        self,
        start: Moment,
        end: Moment,
        granularity: str = "DAILY",
        dimensions: Sequence[str] | None = None,
        phone_numbers: Sequence[str] | None = None,
    ) -> list[ConversationDataPoint]:
        """Conversations and their cost per ``HALF_HOUR``, ``DAILY`` or ``MONTHLY``, split by
        ``dimensions`` (``CONVERSATION_CATEGORY``, ``CONVERSATION_TYPE``, ``COUNTRY``, ``PHONE``)."""
        begin, finish = _range(start, end)
        expression = _field(
            "conversation_analytics",
            begin,
            finish,
            _graph.choice(granularity, "granularity", GRANULARITIES),
            phone_numbers=_names(phone_numbers, "phone_numbers"),
            dimensions=_names(dimensions, "dimensions", CONVERSATION_DIMENSIONS),
        )
        points = self._data_points(self._waba_field(expression, "conversation_analytics"))
        return [
            ConversationDataPoint(
                *_span(p),
                conversation=int(p.get("conversation", 0)),
                cost=float(p.get("cost", 0)),
                **_dimensions(p, ("conversation_category", "conversation_type", "country", "phone_number")),
            )
            for p in points
        ]

    def get_pricing_analytics(
        self,
        start: Moment,
        end: Moment,
        granularity: str = "DAILY",
        dimensions: Sequence[str] | None = None,
        phone_numbers: Sequence[str] | None = None,
        country_codes: Sequence[str] | None = None,
    ) -> list[PricingDataPoint]:
        """Delivered messages and their cost per ``HALF_HOUR``, ``DAILY`` or ``MONTHLY``, split
        by ``dimensions`` (``PRICING_CATEGORY``, ``PRICING_TYPE``, ``COUNTRY``, ``PHONE``, ``TIER``)."""
        begin, finish = _range(start, end)
        expression = _field(
            "pricing_analytics",
            begin,
            finish,
            _graph.choice(granularity, "granularity", GRANULARITIES),
            phone_numbers=_names(phone_numbers, "phone_numbers"),
            country_codes=_names(country_codes, "country_codes"),
            dimensions=_names(dimensions, "dimensions", PRICING_DIMENSIONS),
        )
        points = self._data_points(self._waba_field(expression, "pricing_analytics"))
        return [
            PricingDataPoint(
                *_span(p),
                volume=int(p.get("volume", 0)),
                cost=float(p.get("cost", 0)),
                **_dimensions(p, ("pricing_category", "pricing_type", "country", "phone_number", "tier")),
            )
            for p in points
        ]

    def get_template_analytics(
        self,
        template_ids: Sequence[str],
        start: Moment,
        end: Moment,
        metric_types: Sequence[str] | None = None,
    ) -> list[TemplateDataPoint]:
        """Daily figures of up to 10 templates (``GET /<WABA_ID>/template_analytics``);
        ``metric_types`` narrows them (``SENT``, ``DELIVERED``, ``READ``, ``CLICKED``, ``COST``)."""
        ids = [_graph.digits(value, "template_ids") for value in _names(template_ids, "template_ids")]
        if not 1 <= len(ids) <= MAX_TEMPLATE_IDS:
            raise _graph.refuse("template_ids", f"must name 1 to {MAX_TEMPLATE_IDS} templates")
        begin, finish = _range(start, end)
        params: dict[str, Any] = {
            "start": begin,
            "end": finish,
            "granularity": "DAILY",
            "template_ids": json.dumps(ids, separators=(",", ":")),
        }
        metrics = _names(metric_types, "metric_types", TEMPLATE_METRICS)
        if metrics:
            params["metric_types"] = json.dumps(metrics, separators=(",", ":"))
        pages = _graph.pages(self, f"/{_graph.waba(self)}/template_analytics", params)
        return [_template_point(p) for page in pages for p in page.get("data_points") or []]

    def get_account_currency(self) -> str:
        """The currency Meta bills the WhatsApp Business Account in (``"USD"``, ``"EUR"``, ...):
        the unit of every ``cost`` above."""
        answer = _graph.call(self, "GET", _graph.with_query(f"/{_graph.waba(self)}", {"fields": "currency"}))
        return str(answer.get("currency") or "")

    def _waba_field(self, expression: str, name: str) -> dict[str, Any]:
        path = _graph.with_query(f"/{_graph.waba(self)}", {"fields": expression})
        answer = _graph.call(self, "GET", path)
        return answer.get(name) or {}

    @staticmethod
    def _data_points(node: dict[str, Any]) -> list[dict[str, Any]]:
        return [point for group in node.get("data") or [] for point in group.get("data_points") or []]
