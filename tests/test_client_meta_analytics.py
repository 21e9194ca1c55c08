"""Meta's analytics through the client: the field expressions and query on the wire (a stub),
typed results from the sandbox's figures, and arguments Meta would refuse refused unsent."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone
from urllib.parse import parse_qs, unquote

import pytest

import wacloud
from graph_stub import GraphStub, Reply
from wacloud import InvalidParameter
from wacloud.meta_analytics import PricingDataPoint, TemplateDataPoint
from wacloud.sandbox.state import HELLO_WORLD_ID

TOKEN = "EAAG-secret-token-321"
PHONE_ID = "106540352242922"
WABA_ID = "102290129340398"
USER = "15550001111"
START = datetime(2026, 3, 1, tzinfo=timezone.utc)
END = datetime(2026, 3, 3, tzinfo=timezone.utc)


@pytest.fixture
def stub():
    with GraphStub() as server:
        yield server


def stub_client(stub):
    return wacloud.Client(TOKEN, PHONE_ID, waba_id=WABA_ID, base_url=stub.base_url)


def test_pricing_analytics_asks_graphs_field_expansion(stub):
    point = {
        "start": 1772323200,
        "end": 1772409600,
        "volume": 3,
        "cost": 0.075,
        "pricing_category": "MARKETING",
    }
    stub.script(
        "GET", f"/v25.0/{WABA_ID}", Reply(200, {"pricing_analytics": {"data": [{"data_points": [point]}]}})
    )
    (got,) = stub_client(stub).get_pricing_analytics(
        START, END, dimensions=["PRICING_CATEGORY"], country_codes=["US"]
    )
    assert got == PricingDataPoint(
        datetime(2026, 3, 1, tzinfo=timezone.utc),
        datetime(2026, 3, 2, tzinfo=timezone.utc),
        3,
        0.075,
        "MARKETING",
    )
    (request,) = stub.requests
    assert unquote(parse_qs(request.query)["fields"][0]) == (
        "pricing_analytics.start(1772323200).end(1772496000).granularity(DAILY)"
        '.country_codes(["US"]).dimensions(["PRICING_CATEGORY"])'
    )


def test_template_analytics_query_and_result(stub):
    answer = {
        "data": [
            {
                "granularity": "DAILY",
                "data_points": [
                    {
                        "template_id": "42", "start": 1772323200, "end": 1772409600, "sent": 5,
                        "delivered": 4, "read": 2,
                        "clicked": [{"type": "url_button", "button_content": "Track", "count": 1}],
                        "cost": [{"type": "amount_spent", "value": 0.1}],
                    }
                ],
            }
        ]
    }  # fmt: skip
    stub.script("GET", f"/v25.0/{WABA_ID}/template_analytics", Reply(200, answer))
    (point,) = stub_client(stub).get_template_analytics(
        ["42"], date(2026, 3, 1), 1772496000, metric_types=["SENT"]
    )
    assert isinstance(point, TemplateDataPoint) and (point.sent, point.delivered, point.read) == (5, 4, 2)
    assert point.clicked == (("url_button", "Track", 1),) and point.cost == {"amount_spent": 0.1}
    query = parse_qs(stub.requests[0].query)
    assert query == {
        "start": ["1772323200"], "end": ["1772496000"], "granularity": ["DAILY"],
        "template_ids": ['["42"]'], "metric_types": ['["SENT"]'],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.get_messaging_analytics(END, START), "end"),
        (lambda c: c.get_messaging_analytics(START, END, granularity="DAILY"), "granularity"),
        (lambda c: c.get_pricing_analytics(START, END, granularity="DAY"), "granularity"),
        (lambda c: c.get_pricing_analytics(START, END, dimensions=["COLOUR"]), "dimensions"),
        (lambda c: c.get_conversation_analytics("yesterday", END), "start"),
        (lambda c: c.get_template_analytics([], START, END), "template_ids"),
        (lambda c: c.get_template_analytics([str(n) for n in range(11)], START, END), "template_ids"),
        (lambda c: c.get_template_analytics(["hello_world"], START, END), "template_ids"),
        (lambda c: c.get_template_analytics(["1"], START, END, metric_types=["OPENED"]), "metric_types"),
    ],
)
def test_arguments_meta_would_refuse_are_refused_unsent(stub, call, field):
    with pytest.raises(InvalidParameter, match=f"^{field}"):
        call(stub_client(stub))
    assert stub.requests == []


def test_against_the_sandbox_figures_follow_what_was_sent(wa_sandbox):
    config = wa_sandbox.config
    client = wacloud.Client(
        config.access_token, config.phone_number_id, waba_id=config.waba_id, base_url=wa_sandbox.base_url
    )
    wa_sandbox.inject_inbound(**{"from": USER, "type": "text", "text": "hi"})
    client.send_text(USER, "hello")
    client.send_template(USER, "hello_world", "en_US")
    deadline = time.monotonic() + 5
    while sum(m["status"] == "read" for m in wa_sandbox.sent_messages()) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    now = datetime.now(timezone.utc)
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)
    messaging = client.get_messaging_analytics(start, end, granularity="HALF_HOUR")
    assert sum(p.sent for p in messaging) == 2 and sum(p.delivered for p in messaging) == 2
    assert all(p.end - p.start == timedelta(minutes=30) for p in messaging)
    pricing = client.get_pricing_analytics(start, end, dimensions=["PRICING_TYPE"])
    assert {p.pricing_type for p in pricing} == {"FREE_CUSTOMER_SERVICE"} and sum(
        p.volume for p in pricing
    ) == 2
    conversations = client.get_conversation_analytics(start, end, dimensions=["CONVERSATION_CATEGORY"])
    # One conversation per category; both free inside the customer service window.
    assert {(c.conversation_category, c.conversation, c.cost) for c in conversations} == {
        ("SERVICE", 1, 0.0),
        ("UTILITY", 1, 0.0),
    }
    (template,) = client.get_template_analytics([HELLO_WORLD_ID], start, end)
    assert (template.template_id, template.sent, template.delivered, template.read) == (
        HELLO_WORLD_ID,
        1,
        1,
        1,
    )
