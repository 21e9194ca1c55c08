"""Meta's analytics as the sandbox computes them from what was sent: messaging analytics
(sent, delivered), pricing analytics (volume and cost per pricing category and type),
conversation analytics and template analytics (sent, delivered, read, quick-reply clicks,
cost). Not in Meta's vendored spec: the answers' shapes are checked here against Meta's
documented ones."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sandbox_support import USER, Graph, assert_valid_error
from test_meta_pricing_statuses import _create_marketing_template

from wacloud.sandbox.meta_analytics import PRICES
from wacloud.sandbox.state import HELLO_WORLD_ID

DAY = 86400


def wait_read(wa_sandbox: Any, count: int) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if sum(m["status"] == "read" for m in wa_sandbox.sent_messages()) >= count:
            return
        time.sleep(0.01)
    raise AssertionError("the sends did not all reach read")


def template(name: str) -> dict[str, Any]:
    return {"to": USER, "type": "template", "template": {"name": name, "language": {"code": "en_US"}}}


def waba_field(graph: Graph, expression: str) -> Any:
    return graph.request("GET", f"/{graph.waba}?fields={expression}")


def window(graph: Graph) -> tuple[int, int]:
    now = int(time.time())  # the sandbox clock is not moved in these tests
    return now - DAY, now + DAY


@pytest.fixture
def traffic(graph, wa_sandbox, open_window):
    """Two marketing templates (billed), one utility template and one text in the window (free)."""
    _create_marketing_template(graph, wa_sandbox)
    for payload in (template("promo"), template("promo"), template("hello_world")):
        assert graph.send(**payload).status == 200
    assert graph.text().status == 200
    wait_read(wa_sandbox, 4)
    return window(graph)


def test_pricing_analytics_bills_the_marketing_templates_only(graph, traffic):
    start, end = traffic
    expression = (
        f"pricing_analytics.start({start}).end({end}).granularity(DAILY)"
        '.dimensions(["PRICING_CATEGORY","PRICING_TYPE"])'
    )
    reply = waba_field(graph, expression)
    assert reply.status == 200, reply.body
    assert reply.body["id"] == graph.waba
    (group,) = reply.body["pricing_analytics"]["data"]
    figures = {
        (p["pricing_category"], p["pricing_type"]): (p["volume"], p["cost"]) for p in group["data_points"]
    }
    assert figures == {
        ("MARKETING", "REGULAR"): (2, pytest.approx(2 * PRICES["marketing"])),
        ("UTILITY", "FREE_CUSTOMER_SERVICE"): (1, 0.0),
        ("SERVICE", "FREE_CUSTOMER_SERVICE"): (1, 0.0),
    }
    point = group["data_points"][0]
    assert point["end"] - point["start"] == DAY and point["start"] % DAY == 0


def test_messaging_analytics_has_every_bucket_of_the_range(graph, traffic):
    start, end = traffic
    body = waba_field(graph, f"analytics.start({start}).end({end}).granularity(DAY)").body["analytics"]
    assert body["granularity"] == "DAY"
    points = body["data_points"]
    assert len(points) in (2, 3)  # the range spans two or three UTC days
    assert sum(p["sent"] for p in points) == 4 and sum(p["delivered"] for p in points) == 4
    assert all(p["end"] - p["start"] == DAY for p in points)


def test_sends_on_other_days_land_in_other_buckets(graph, wa_sandbox, open_window):
    assert graph.text().status == 200
    wait_read(wa_sandbox, 1)
    graph.control("POST", "/clock", {"advance_seconds": 2 * DAY})
    wa_sandbox.inject_inbound(**{"from": USER, "type": "text", "text": "again"})
    assert graph.text().status == 200
    wait_read(wa_sandbox, 2)
    now = int(time.time()) + 2 * DAY
    body = waba_field(graph, f"analytics.start({now - 4 * DAY}).end({now + 1}).granularity(DAY)").body
    sent = [p["sent"] for p in body["analytics"]["data_points"]]
    assert sorted(sent, reverse=True)[:2] == [1, 1] and sum(sent) == 2


def test_conversation_analytics_counts_the_conversations_opened(graph, traffic):
    start, end = traffic
    expression = (
        f"conversation_analytics.start({start}).end({end}).granularity(DAILY)"
        '.dimensions(["CONVERSATION_CATEGORY"])'
    )
    (group,) = waba_field(graph, expression).body["conversation_analytics"]["data"]
    by_category = {p["conversation_category"]: (p["conversation"], p["cost"]) for p in group["data_points"]}
    # One marketing conversation holding both promos: it costs what its messages cost.
    assert by_category["MARKETING"] == (1, pytest.approx(2 * PRICES["marketing"]))
    assert by_category["SERVICE"] == (1, 0.0)


def test_template_analytics_counts_sends_reads_clicks_and_cost(graph, wa_sandbox, traffic):
    start, end = traffic
    promo = next(t["id"] for t in wa_sandbox.templates() if t["name"] == "promo")
    (first, *_) = [
        m for m in wa_sandbox.sent_messages(type="template") if m["payload"]["template"]["name"] == "promo"
    ]
    reply = {
        "from": USER,
        "type": "button",
        "button": {"payload": "p", "text": "Shop now"},
        "reply_to": first["id"],
    }
    wa_sandbox.inject_inbound(**reply)
    query = f"start={start}&end={end}&granularity=DAILY&template_ids=[{promo},{HELLO_WORLD_ID}]"
    body = graph.request("GET", f"/{graph.waba}/template_analytics?{query}").body
    (group,) = body["data"]
    assert group["granularity"] == "DAILY"
    points = {p["template_id"]: p for p in group["data_points"]}
    assert (points[promo]["sent"], points[promo]["delivered"], points[promo]["read"]) == (2, 2, 2)
    assert points[promo]["clicked"] == [
        {"type": "quick_reply_button", "button_content": "Shop now", "count": 1}
    ]
    cost = {c["type"]: c["value"] for c in points[promo]["cost"]}
    assert cost == {"amount_spent": pytest.approx(0.05), "cost_per_delivered": pytest.approx(0.025)}
    assert points[HELLO_WORLD_ID]["sent"] == 1
    narrowed = graph.request("GET", f'/{graph.waba}/template_analytics?{query}&metric_types=["SENT"]').body
    assert set(narrowed["data"][0]["data_points"][0]) == {"template_id", "start", "end", "sent"}


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("analytics.start(10).end(20)", "granularity"),
        ("analytics.end(20).granularity(DAY)", "start"),
        ("analytics.start(20).end(10).granularity(DAY)", "after start"),
        ("analytics.start(10).end(20).granularity(DAILY)", "granularity"),
        ("pricing_analytics.start(10).end(20).granularity(DAY)", "granularity"),
        ('pricing_analytics.start(10).end(20).granularity(DAILY).dimensions(["COLOR"])', "dimensions"),
    ],
)
def test_analytics_fields_are_checked_like_meta(graph, expression, words):
    error = assert_valid_error(waba_field(graph, expression), 100, 400)
    assert words in error["message"] + error.get("error_data", {}).get("details", "")


def test_template_analytics_needs_template_ids_and_daily(graph):
    path = f"/{graph.waba}/template_analytics?start=10&end=20"
    assert_valid_error(graph.request("GET", path + "&granularity=DAILY"), 100, 400)
    assert_valid_error(graph.request("GET", path + "&granularity=MONTHLY&template_ids=[1]"), 100, 400)
    ids = ",".join(str(n) for n in range(11))
    assert_valid_error(graph.request("GET", path + f"&granularity=DAILY&template_ids=[{ids}]"), 100, 400)


def test_other_waba_fields_still_answer_beside_an_analytics_field(graph):
    reply = waba_field(graph, "name,analytics.start(10).end(20).granularity(MONTH)")
    assert reply.status == 200 and reply.body["name"] and reply.body["analytics"]["data_points"]
    assert graph.request("GET", f"/{graph.waba}?fields=name").body["name"] == reply.body["name"]
