"""pytest plugin: the ``wa_sandbox`` fixture, a started :class:`~wacloud.sandbox.Sandbox`.

Webhooks go to a :class:`~wacloud.sandbox.WebhookCollector` (``wa_sandbox.collector``)
unless a URL is given with ``--wa-sandbox-webhook-url`` or the marker::

    @pytest.mark.wa_sandbox(webhook_url="http://127.0.0.1:8000/wa/webhook/", messages_per_second=5)
    def test_something(wa_sandbox): ...

The marker takes any ``SandboxConfig`` field. This module is loaded in every pytest
run of every project that installs wacloud, so it imports nothing heavy: aiohttp is
imported only when a test uses the fixture."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

# Short timings: statuses, template review and webhook retries within milliseconds.
FAST_DEFAULTS = {
    "sent_after": 0.01,
    "delivered_after": 0.02,
    "read_after": 0.03,
    "template_review_seconds": 0.05,
    "webhook_retry_base": 0.05,
    "webhook_retry_max": 0.5,
    "webhook_timeout": 5.0,
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wacloud", "wacloud sandbox")
    group.addoption(
        "--wa-sandbox-webhook-url",
        default=None,
        help="send the wa_sandbox fixture's webhooks to this URL instead of a collector",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "wa_sandbox(**options): SandboxConfig options for the wa_sandbox fixture (e.g. webhook_url=...)",
    )


@pytest.fixture
def wa_sandbox(request: pytest.FixtureRequest) -> Iterator[Any]:
    from wacloud.sandbox import Sandbox, WebhookCollector

    marker = request.node.get_closest_marker("wa_sandbox")
    options: dict[str, Any] = {**FAST_DEFAULTS, **(marker.kwargs if marker else {})}
    webhook_url = options.pop("webhook_url", None) or request.config.getoption("--wa-sandbox-webhook-url")
    collector = None
    if webhook_url is None:
        collector = WebhookCollector().start()
        webhook_url = collector.url
    try:
        sandbox = Sandbox(webhook_url=webhook_url, **options).start()
    except BaseException:
        if collector is not None:
            collector.stop()
        raise
    sandbox.collector = collector
    try:
        yield sandbox
    finally:
        sandbox.stop()
        if collector is not None:
            collector.stop()
