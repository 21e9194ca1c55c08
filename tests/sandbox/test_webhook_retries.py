"""Webhook delivery retries on Meta's schedule.

Source: Meta's webhooks guide (https://developers.facebook.com/docs/graph-api/webhooks/getting-started,
"Event notifications"): a notification answered with anything but 200 is retried with decreasing
frequency until it succeeds, for up to 7 days. The sandbox runs that schedule on its own clock, so
advance_clock() compresses it."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sandbox_support import USER

DAY = 24 * 3600


def _delivery(wa_sandbox: Any, attempts: int, timeout: float = 5.0) -> dict[str, Any]:
    """The only delivery, once ``attempts`` attempts have been answered."""
    deadline = time.monotonic() + timeout
    while True:
        (delivery,) = wa_sandbox.webhooks()
        done = len(delivery["responses"]) >= attempts and delivery["status"] != "pending"
        if done or time.monotonic() > deadline:
            return delivery
        time.sleep(0.01)


def test_only_200_counts_as_delivered(wa_sandbox):
    wa_sandbox.collector.respond_with(204, 202)
    wa_sandbox.inject_inbound(**{"from": USER, "type": "text", "text": "hi"})
    (delivery,) = wa_sandbox.wait_for_webhooks(kind="message")
    assert delivery["responses"] == [204, 202, 200] and delivery["attempts"] == 3


@pytest.mark.wa_sandbox(webhook_retry_base=600, webhook_retry_max=600)
def test_retries_wait_on_the_sandbox_clock(wa_sandbox):
    wa_sandbox.collector.respond_with(500)
    wa_sandbox.inject_inbound(**{"from": USER, "type": "text", "text": "hi"})
    first = _delivery(wa_sandbox, attempts=1)
    assert first["status"] == "retrying" and first["responses"] == [500]
    assert first["next_attempt_at"] - first["created_at"] == pytest.approx(600, abs=5)
    time.sleep(0.1)
    assert _delivery(wa_sandbox, attempts=1)["attempts"] == 1  # ten minutes are not up yet
    wa_sandbox.advance_clock(600)
    (delivered,) = wa_sandbox.wait_for_webhooks(kind="message")
    assert delivered["responses"] == [500, 200]


@pytest.mark.wa_sandbox(webhook_retry_base=3600, webhook_retry_max=DAY)
def test_a_delivery_is_retried_with_decreasing_frequency_for_seven_days(wa_sandbox):
    wa_sandbox.collector.respond_with(*[503] * 100)
    wa_sandbox.inject_inbound(**{"from": USER, "type": "text", "text": "hi"})
    delivery = _delivery(wa_sandbox, attempts=1)
    waits = []
    while delivery["status"] == "retrying":
        wait = delivery["next_attempt_at"] - wa_sandbox.advance_clock(0)["now"]
        waits.append(round(wait / 60))  # minutes
        wa_sandbox.advance_clock(max(wait, 0) + 1)
        delivery = _delivery(wa_sandbox, attempts=len(delivery["responses"]) + 1)
    assert delivery["status"] == "failed"
    assert waits == sorted(waits) and waits[-1] > waits[0] * 10  # the gaps grow: fewer tries
    assert 7 <= delivery["attempts"] <= 20
    assert wa_sandbox.advance_clock(0)["now"] - delivery["created_at"] <= 7 * DAY + 5
