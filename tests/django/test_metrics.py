"""The opt-in Prometheus endpoint: off by default, the bearer token, counters moved by
real webhooks and sends, backlog gauges read from the database, parseable output."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.core import checks
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from wacloud_test_helpers import text_message

from wacloud_django import metrics
from wacloud_django.models import Contact, Message, WebhookEvent
from wacloud_django.services.outbound import send_message

pytestmark = pytest.mark.django_db

URL = "/whatsapp/metrics"
CUSTOMER = "15550001111"


@pytest.fixture
def enabled(settings):
    settings.WACLOUD = {**settings.WACLOUD, "METRICS": {"ENABLED": True}}


def scrape(client, **headers) -> dict[str, dict[tuple, float]]:
    """The families served, as {family: {(sample name, sorted labels): value}}."""
    response = client.get(URL, **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    families: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        samples = families.setdefault(family.name, {})
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return families


def sample(families, family: str, name: str | None = None, **labels: str) -> float:
    return families.get(family, {}).get((name or family, tuple(sorted(labels.items()))), 0.0)


def test_disabled_by_default_is_a_404(client):
    assert client.get(URL).status_code == 404
    assert client.get(URL + "/").status_code == 404


def test_enabled_serves_on_both_spellings(client, enabled):
    assert client.get(URL).status_code == 200
    assert client.get(URL + "/").status_code == 200
    assert client.post(URL).status_code == 405


def test_a_token_is_required_when_configured(client, settings):
    settings.WACLOUD = {**settings.WACLOUD, "METRICS": {"ENABLED": True, "TOKEN": "s3cret"}}
    assert client.get(URL).status_code == 403
    assert client.get(URL, HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get(URL, HTTP_AUTHORIZATION="Basic s3cret").status_code == 403
    assert "wacloud_messages_queued" in scrape(client, HTTP_AUTHORIZATION="Bearer s3cret")


def test_a_webhook_moves_the_event_counter_and_the_latency_histogram(client, enabled, account, post_webhook):
    before = scrape(client)
    response = post_webhook(text_message("wamid.metrics-1", "hi"))
    assert response.status_code == 200
    stored = WebhookEvent.objects.get()
    assert stored.status == WebhookEvent.Status.PROCESSED and stored.processed_at is not None
    after = scrape(client)
    events = "wacloud_webhook_events"
    assert (
        sample(after, events, f"{events}_total", type="message")
        == sample(before, events, f"{events}_total", type="message") + 1
    )
    latency = "wacloud_webhook_processing_seconds"
    # One observation per webhook, however many items it carried.
    assert sample(after, latency, f"{latency}_count") == sample(before, latency, f"{latency}_count") + 1
    assert sample(after, latency, f"{latency}_bucket", le="+Inf") == sample(
        after, latency, f"{latency}_count"
    )


def test_webhook_errors_are_counted_by_reason(client, enabled, account, post_webhook):
    reason = "wacloud_webhook_errors"
    before = sample(scrape(client), reason, f"{reason}_total", reason="invalid_signature")
    assert post_webhook(text_message("wamid.metrics-2"), secret="wrong-secret").status_code in (401, 403)
    after = sample(scrape(client), reason, f"{reason}_total", reason="invalid_signature")
    assert after == before + 1


def test_nothing_is_counted_while_disabled(client, settings, account, post_webhook):
    events = "wacloud_webhook_events"
    settings.WACLOUD = {**settings.WACLOUD, "METRICS": {"ENABLED": True}}
    before = sample(scrape(client), events, f"{events}_total", type="message")
    settings.WACLOUD = {**settings.WACLOUD, "METRICS": {"ENABLED": False}}
    post_webhook(text_message("wamid.metrics-3"))
    settings.WACLOUD = {**settings.WACLOUD, "METRICS": {"ENABLED": True}}
    assert sample(scrape(client), events, f"{events}_total", type="message") == before


def test_a_send_and_a_refused_send_move_the_message_counters(
    client, enabled, sandbox, account, django_capture_on_commit_callbacks
):
    sent, failed, statuses = "wacloud_messages_sent", "wacloud_messages_failed", "wacloud_message_statuses"
    before = scrape(client)
    # The customer wrote in (both sides see the window open): the send goes through.
    sandbox.inject_inbound(**{"from": CUSTOMER}, name="Ana", type="text", text="hello")
    Contact.objects.create(account=account, wa_id=CUSTOMER, last_inbound_at=timezone.now())
    # Only our database thinks this window is open: Meta refuses (131047).
    Contact.objects.create(account=account, wa_id="15550002222", last_inbound_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):  # the signals go after commit
        assert send_message(account, CUSTOMER, "text", "Hi Ana", enqueue=False).status == Message.Status.SENT
        refused = send_message(account, "15550002222", "text", "hello?", enqueue=False)
    assert refused.status == Message.Status.FAILED and refused.error_code == 131047
    after = scrape(client)
    outbound_sent = {"direction": "outbound", "status": "sent"}
    assert sample(after, statuses, f"{statuses}_total", **outbound_sent) == (
        sample(before, statuses, f"{statuses}_total", **outbound_sent) + 1
    )
    assert (
        sample(after, sent, f"{sent}_total", type="text")
        == sample(before, sent, f"{sent}_total", type="text") + 1
    )
    labels = {"type": "text", "error_code": "131047"}
    assert (
        sample(after, failed, f"{failed}_total", **labels)
        == sample(before, failed, f"{failed}_total", **labels) + 1
    )


def test_backlog_gauges_reflect_the_database(client, enabled, account):
    empty = scrape(client)
    assert sample(empty, "wacloud_webhook_events_backlog", status="pending") == 0
    assert sample(empty, "wacloud_messages_queued") == 0
    assert sample(empty, "wacloud_webhook_oldest_pending_age_seconds") == 0
    old = timezone.now() - timezone.timedelta(minutes=10)
    for n in range(3):
        WebhookEvent.objects.create(body=b"{}", body_sha256=f"{n:064d}", received_at=old)
    WebhookEvent.objects.create(body=b"{}", body_sha256="f" * 64, status=WebhookEvent.Status.FAILED)
    WebhookEvent.objects.create(body=b"{}", body_sha256="e" * 64, status=WebhookEvent.Status.PROCESSED)
    outbound = {"account": account, "direction": Message.Direction.OUTBOUND, "type": "text"}
    Message.objects.create(**outbound, status=Message.Status.QUEUED)
    Message.objects.create(**outbound, status=Message.Status.QUEUED)
    Message.objects.create(**outbound, status=Message.Status.FAILED, failure_kind=Message.SendFailure.UNKNOWN)
    Message.objects.create(
        **outbound, status=Message.Status.FAILED, failure_kind=Message.SendFailure.RETRIABLE
    )
    Message.objects.create(
        **outbound, status=Message.Status.FAILED, failure_kind=Message.SendFailure.RETRIABLE
    )
    Message.objects.create(
        **outbound, status=Message.Status.FAILED, failure_kind=Message.SendFailure.PERMANENT
    )
    Message.objects.create(**outbound, status=Message.Status.SENT, wamid="wamid.sent")
    families = scrape(client)
    assert sample(families, "wacloud_webhook_events_backlog", status="pending") == 3
    assert sample(families, "wacloud_webhook_events_backlog", status="failed") == 1
    assert sample(families, "wacloud_webhook_events_backlog", status="processing") == 0
    assert sample(families, "wacloud_webhook_events_failed_retriable") == 1
    assert sample(families, "wacloud_webhook_oldest_pending_age_seconds") >= 600
    assert sample(families, "wacloud_messages_queued") == 2
    assert sample(families, "wacloud_messages_oldest_queued_age_seconds") >= 0
    assert sample(families, "wacloud_messages_delivery_unknown") == 1
    assert sample(families, "wacloud_messages_failed_retriable") == 2


def test_multiprocess_mode_reads_the_shared_directory(client, enabled, account, monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    Message.objects.create(
        account=account, direction=Message.Direction.OUTBOUND, type="text", status=Message.Status.QUEUED
    )
    families = scrape(client)
    # This process wrote no files (it was not started in multiprocess mode): only the
    # database gauges, computed at scrape time, are served.
    assert sample(families, "wacloud_messages_queued") == 1
    assert "wacloud_webhook_events" not in families


def test_multiprocess_mode_merges_what_other_processes_counted(client, enabled, monkeypatch, tmp_path):
    # Another process (a Celery or gunicorn worker) started with the directory set counts a
    # webhook error; this process's scrape serves it.
    worker = textwrap.dedent(
        """
        import django
        django.setup()
        from django.conf import settings
        from django.test.utils import override_settings
        from wacloud_django import signals
        with override_settings(WACLOUD={**settings.WACLOUD, "METRICS": {"ENABLED": True}}):
            for _ in range(2):
                signals.webhook_error.send(sender=None, reason="invalid_signature")
        """
    )
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "wacloud_test_settings",
    }
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), env.get("PYTHONPATH", "")])
    subprocess.run([sys.executable, "-c", worker], env=env, check=True, timeout=120)
    assert list(tmp_path.glob("counter_*.db"))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    families = scrape(client)
    errors = "wacloud_webhook_errors"
    assert sample(families, errors, f"{errors}_total", reason="invalid_signature") == 2


def test_the_registry_is_our_own():
    import prometheus_client

    own = {name for collector in [metrics.REGISTRY] for name in collector._names_to_collectors}
    default = set(prometheus_client.REGISTRY._names_to_collectors)
    assert "wacloud_messages_sent_total" in own and not own & default


def test_register_in_exposes_wacloud_through_another_registry(account):
    from prometheus_client import CollectorRegistry, generate_latest

    host = CollectorRegistry()
    metrics.register_in(host)
    assert b"wacloud_messages_queued" in generate_latest(host)


def test_the_check_names_the_extra_when_prometheus_client_is_missing(settings, monkeypatch):
    settings.WACLOUD = {**settings.WACLOUD, "METRICS": {"ENABLED": True}}
    assert [m for m in metrics.check_metrics() if m.id == "wacloud.E030"] == []
    monkeypatch.setattr(metrics, "prometheus_client", None)
    [problem] = metrics.check_metrics()
    assert problem.level == checks.ERROR and problem.id == "wacloud.E030"
    assert 'pip install "wacloud[metrics]"' in problem.hint


def test_the_check_refuses_a_malformed_metrics_setting(settings):
    settings.WACLOUD = {**settings.WACLOUD, "METRICS": {"ENABLED": "yes", "TOKEN": "", "PORT": 9}}
    messages = " ".join(m.msg for m in metrics.check_metrics())
    assert "PORT" in messages and '["ENABLED"]' in messages and '["TOKEN"]' in messages


def test_the_check_leaves_a_non_dict_wacloud_to_e001_and_refuses_a_non_dict_metrics(settings):
    settings.WACLOUD = "oops"
    assert metrics.check_metrics() == []
    settings.WACLOUD = {"METRICS": True}
    [problem] = metrics.check_metrics()
    assert problem.id == "wacloud.E030" and "METRICS" in problem.msg


# -- Graph API call latency and rate limiter waits (services/instrumentation.py) --------------------


class FakeClock:
    """time.monotonic for services/instrumentation.py, moved only by SlowLimiter."""

    now = 1000.0

    @classmethod
    def monotonic(cls) -> float:
        return cls.now


class SlowLimiter:
    """A RATE_LIMIT backend factory (dotted path) whose every slot costs 0.3 s of FakeClock."""

    def __init__(self, per_second: float, per_hour: float | None) -> None:
        self.calls = 0

    def acquire(self, key: str, recipient: str = "", timeout: float | None = None) -> bool:
        self.calls += 1
        FakeClock.now += 0.3
        return True


def test_meta_calls_are_timed_by_endpoint_and_outcome(client, enabled, sandbox, account):
    from wacloud_django.services.templates import sync_templates

    calls = "wacloud_meta_call_seconds"
    before = scrape(client)
    sandbox.inject_inbound(**{"from": CUSTOMER}, name="Ana", type="text", text="hello")
    Contact.objects.create(account=account, wa_id=CUSTOMER, last_inbound_at=timezone.now())
    Contact.objects.create(account=account, wa_id="15550002222", last_inbound_at=timezone.now())
    assert send_message(account, CUSTOMER, "text", "Hi", enqueue=False).status == Message.Status.SENT
    assert send_message(account, "15550002222", "text", "hi?", enqueue=False).status == Message.Status.FAILED
    sync_templates(account)
    after = scrape(client)
    for labels in (
        {"endpoint": "send", "outcome": "ok"},
        {"endpoint": "send", "outcome": "error"},
        {"endpoint": "templates", "outcome": "ok"},
    ):
        count = sample(after, calls, f"{calls}_count", **labels)
        assert count == sample(before, calls, f"{calls}_count", **labels) + 1, labels
        assert sample(after, calls, f"{calls}_bucket", le="+Inf", **labels) == count


def test_rate_limiter_waits_are_counted_and_kept_out_of_the_call_latency(
    client, enabled, sandbox, account, settings, monkeypatch
):
    from wacloud_django.services import instrumentation

    settings.WACLOUD = {**settings.WACLOUD, "RATE_LIMIT": {"BACKEND": "test_metrics.SlowLimiter"}}
    monkeypatch.setattr(instrumentation, "time", FakeClock)
    waits, wait, calls = (
        "wacloud_rate_limit_waits",
        "wacloud_rate_limit_wait_seconds",
        "wacloud_meta_call_seconds",
    )
    before = scrape(client)
    sandbox.inject_inbound(**{"from": CUSTOMER}, name="Ana", type="text", text="hello")
    Contact.objects.create(account=account, wa_id=CUSTOMER, last_inbound_at=timezone.now())
    for text in ("one", "two"):
        assert send_message(account, CUSTOMER, "text", text, enqueue=False).status == Message.Status.SENT
    after = scrape(client)
    assert sample(after, waits, f"{waits}_total", outcome="acquired") == (
        sample(before, waits, f"{waits}_total", outcome="acquired") + 2
    )
    assert sample(after, wait, f"{wait}_sum") == pytest.approx(sample(before, wait, f"{wait}_sum") + 0.6)
    assert sample(after, wait, f"{wait}_bucket", le="0.25") == sample(
        before, wait, f"{wait}_bucket", le="0.25"
    )
    # The 0.3 s each send waited is the limiter's, not Meta's: the calls took no FakeClock time.
    ok = {"endpoint": "send", "outcome": "ok"}
    assert sample(after, calls, f"{calls}_sum", **ok) == pytest.approx(
        sample(before, calls, f"{calls}_sum", **ok)
    )


def test_the_core_keeps_its_own_limiter_while_metrics_are_disabled(sandbox, account, settings):
    from wacloud_django.services.clients import client_for
    from wacloud_django.services.instrumentation import MeasuredRateLimiter

    client = client_for(account)
    assert client.client._python_limiter is None  # the C++ limiter, asked inside the core
    assert client.phone_number_id == account.phone_number_id  # attributes pass through
    settings.WACLOUD = {**settings.WACLOUD, "METRICS": {"ENABLED": True}}
    assert isinstance(client_for(account).client._python_limiter, MeasuredRateLimiter)


def test_a_malformed_metrics_setting_never_breaks_a_send(sandbox, account, settings):
    settings.WACLOUD = {**settings.WACLOUD, "METRICS": True}  # wacloud.E030 says so; sends go on
    sandbox.inject_inbound(**{"from": CUSTOMER}, name="Ana", type="text", text="hello")
    Contact.objects.create(account=account, wa_id=CUSTOMER, last_inbound_at=timezone.now())
    assert send_message(account, CUSTOMER, "text", "Hi", enqueue=False).status == Message.Status.SENT


def test_the_starter_alert_rules_parse_and_name_only_metrics_we_serve(client, enabled):
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed: prometheus-alerts.yml not parsed")
    rules_file = Path(__file__).resolve().parents[2] / "docs" / "prometheus-alerts.yml"
    [group] = yaml.safe_load(rules_file.read_text())["groups"]
    assert group["name"] == "wacloud" and group["rules"]
    served = set(scrape(client))
    for rule in group["rules"]:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["alert"].startswith("Wacloud") and rule["labels"]["severity"]
        for name in re.findall(r"\bwacloud_\w+", rule["expr"]):
            family = re.sub(r"_(total|count|sum|bucket)$", "", name)
            assert family in served, f"{rule['alert']}: {name} is not served"
