"""The circuit breaker per account, driven through the sandbox's faults: an outage of
minutes on the sandbox clock loses no message, sends none twice, and costs Meta only
the failures that open the circuit plus one probe per cool-down."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from wacloud.circuit import CircuitState
from wacloud_django import signals
from wacloud_django.models import Contact, Message
from wacloud_django.services import circuit
from wacloud_django.services.outbound import deliver_message, retry_failed_messages, send_message

pytestmark = pytest.mark.django_db

CUSTOMER = "15550002222"
THRESHOLD = 3
COOL_DOWN = 30.0
MAX_COOL_DOWN = 120.0
OUTAGE = 5 * 60.0


class Clock:
    """The breakers' clock, moved by the test together with the sandbox's."""

    def __init__(self, sandbox, now: float) -> None:
        self.sandbox, self.now = sandbox, now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.sandbox.advance_clock(seconds)


class Worker:
    """Plays the Celery worker: runs each message's send task when it is due, and
    schedules it again as ``self.retry(countdown=retry_in)`` does for ``retry`` and
    ``deferred``."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.due: dict[int, float] = {}
        self.outcomes: list[str] = []

    def queue(self, message_id: int) -> None:
        self.due[message_id] = self.clock.now

    def run_due(self) -> None:
        for message_id, when in sorted(self.due.items(), key=lambda item: item[1]):
            if when > self.clock.now:
                continue
            result = deliver_message(message_id, can_retry=True)
            self.outcomes.append(result.outcome)
            if result.outcome in ("retry", "deferred"):
                self.due[message_id] = self.clock.now + result.retry_in
            else:
                del self.due[message_id]


@pytest.fixture
def meta(sandbox, settings):
    settings.WACLOUD = {
        **settings.WACLOUD,
        "MAX_RETRIES": 0,  # one request per attempt, so the sandbox's count is the attempts
        "SEND_MAX_ATTEMPTS": 3,
        "TASK_RETRY_BACKOFF_SECONDS": 2,
        "CIRCUIT_BREAKER": {
            "FAILURE_THRESHOLD": THRESHOLD,
            "COOL_DOWN_SECONDS": COOL_DOWN,
            "MAX_COOL_DOWN_SECONDS": MAX_COOL_DOWN,
        },
    }
    return sandbox


@pytest.fixture
def clock(meta, monkeypatch):
    fake = Clock(meta, meta.advance_clock(0)["now"])
    monkeypatch.setattr(circuit, "breaker_clock", fake)
    return fake


@pytest.fixture
def customer(meta, account):
    meta.inject_inbound(**{"from": CUSTOMER}, name="Bo", type="text", text="hi")
    Contact.objects.create(account=account, wa_id=CUSTOMER, last_inbound_at=timezone.now())
    return CUSTOMER


@pytest.fixture
def transitions():
    seen: list[tuple[str, str]] = []

    def opened(sender, account, status, error, **kwargs):
        seen.append(("opened", account.phone_number_id))

    def closed(sender, account, status, **kwargs):
        seen.append(("closed", account.phone_number_id))

    signals.circuit_opened.connect(opened, dispatch_uid="t-circuit-opened")
    signals.circuit_closed.connect(closed, dispatch_uid="t-circuit-closed")
    yield seen
    signals.circuit_opened.disconnect(dispatch_uid="t-circuit-opened")
    signals.circuit_closed.disconnect(dispatch_uid="t-circuit-closed")


def probes_within(seconds: float) -> int:
    """Probes a circuit opened at 0 can let through before ``seconds``: one per cool-down,
    the cool-down doubling from COOL_DOWN up to MAX_COOL_DOWN."""
    probes, at, cool_down = 0, 0.0, COOL_DOWN
    while at + cool_down <= seconds:
        at += cool_down
        probes += 1
        cool_down = min(cool_down * 2, MAX_COOL_DOWN)
    return probes


def test_an_outage_of_minutes_loses_nothing_sends_once_and_sends_few_requests(
    meta, clock, account, customer, transitions
):
    worker = Worker(clock)
    meta.set_faults(error_rate=1.0)  # Meta down: every Graph request fails (131000 or 2)
    before = meta.graph_requests()
    messages = [send_message(account, customer, "text", f"update {i}") for i in range(20)]
    for message in messages:
        worker.queue(message.pk)
    outage_end = clock.now + OUTAGE
    while clock.now < outage_end:
        worker.run_due()
        clock.advance(1)
    during_outage = meta.graph_requests() - before

    meta.clear_faults()
    assert circuit.circuit_status(account).state is not CircuitState.CLOSED
    for _ in range(30 * 60):  # half an hour at most for the backlog to drain
        if not worker.due:
            break
        worker.run_due()
        clock.advance(1)

    # No retry storm: the failures that opened the circuit, then one probe per cool-down.
    assert THRESHOLD < during_outage <= THRESHOLD + probes_within(OUTAGE), during_outage
    # Nothing lost, nothing failed, each message sent exactly once.
    assert worker.due == {}
    rows = Message.objects.filter(pk__in=[m.pk for m in messages])
    assert set(rows.values_list("status", flat=True)) == {Message.Status.SENT}
    wamids = set(rows.values_list("wamid", flat=True))
    assert len(wamids) == 20 and None not in wamids
    sent = meta.sent_messages(to=customer)
    assert sorted(m["id"] for m in sent) == sorted(wamids)
    assert meta.graph_requests() - before == during_outage + 20
    # Deferred sends were never attempted: only the opening failures and the probes count.
    attempts = sum(rows.values_list("send_attempts", flat=True))
    assert attempts == 20 + during_outage
    assert transitions == [("opened", account.phone_number_id), ("closed", account.phone_number_id)]
    assert circuit.circuit_status(account).state is CircuitState.CLOSED


def test_rate_limits_do_not_open_the_circuit(meta, clock, account, customer):
    meta.set_faults(rate_limit_next=THRESHOLD + 2)
    messages = [send_message(account, customer, "text", f"m{i}") for i in range(THRESHOLD + 2)]
    assert [deliver_message(m.pk, can_retry=True).outcome for m in messages] == ["retry"] * len(messages)
    assert circuit.circuit_status(account).state is CircuitState.CLOSED
    assert deliver_message(messages[0].pk, can_retry=True).outcome == "sent"


def test_permanent_errors_do_not_open_the_circuit(meta, clock, account):
    # Our database believes the window is open; the sandbox never saw this customer write, so
    # Meta answers 131047: it works, the message does not.
    stranger = "15550003333"
    Contact.objects.create(account=account, wa_id=stranger, last_inbound_at=timezone.now())
    messages = [send_message(account, stranger, "text", f"m{i}") for i in range(THRESHOLD + 2)]
    results = [deliver_message(m.pk, can_retry=True) for m in messages]
    assert {(r.outcome, r.exception.code) for r in results} == {("failed", 131047)}
    assert circuit.circuit_status(account).state is CircuitState.CLOSED


def test_inline_sends_stay_queued_while_open_and_the_sweep_sends_them_after(
    meta, clock, account, customer, transitions
):
    meta.set_faults(error_rate=1.0)
    for i in range(THRESHOLD):
        failed = send_message(account, customer, "text", f"lost {i}", enqueue=False)
        assert failed.status == Message.Status.FAILED  # inline: no task retry, the sweep requeues
    assert transitions == [("opened", account.phone_number_id)]
    before = meta.graph_requests()
    waiting = send_message(account, customer, "text", "while open", enqueue=False)
    assert waiting.status == Message.Status.QUEUED and waiting.send_attempts == 0
    assert meta.graph_requests() == before  # refused here, not by Meta

    meta.clear_faults()
    clock.advance(COOL_DOWN)
    # The sweep sends what a lost task left queued, and requeues the retriable failures.
    Message.objects.filter(pk=waiting.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    assert retry_failed_messages() == {"requeued": THRESHOLD, "rescheduled": 1, "not_retriable": 0}
    assert set(Message.objects.values_list("status", flat=True)) == {Message.Status.SENT}
    assert len(meta.sent_messages(to=customer)) == THRESHOLD + 1
    assert transitions[-1] == ("closed", account.phone_number_id)


def test_a_disabled_breaker_lets_every_send_through(meta, clock, account, customer, settings):
    settings.WACLOUD = {**settings.WACLOUD, "CIRCUIT_BREAKER": {"ENABLED": False}}
    meta.set_faults(error_rate=1.0)
    messages = [send_message(account, customer, "text", f"m{i}") for i in range(THRESHOLD + 2)]
    before = meta.graph_requests()
    assert {deliver_message(m.pk, can_retry=True).outcome for m in messages} == {"retry"}
    assert meta.graph_requests() - before == len(messages)
    assert circuit.circuit_status(account) is None


def test_the_monitor_the_health_endpoint_and_the_metrics_show_the_state(
    meta, clock, account, customer, client, settings
):
    from api_support import Api, member
    from prometheus_client.parser import text_string_to_metric_families

    settings.WACLOUD = {**settings.WACLOUD, "METRICS": {"ENABLED": True}}

    def monitor() -> dict:
        out = StringIO()
        call_command("whatsapp_monitor", "--format", "json", stdout=out, stderr=StringIO())
        [row] = json.loads(out.getvalue())["circuits"]
        return row

    def health() -> dict:
        body = Api(client, member(account.organization, "viewer")).get("health").json()
        [row] = body["accounts"]
        return row["circuit"]

    def gauge() -> float:
        text = client.get("/whatsapp/metrics").content.decode()
        [family] = [f for f in text_string_to_metric_families(text) if f.name == "wacloud_circuit_state"]
        [sample] = family.samples
        assert sample.labels == {"phone_number_id": account.phone_number_id}
        return sample.value

    assert monitor()["state"] == health()["state"] == "closed" and gauge() == 0
    meta.set_faults(error_rate=1.0)
    for i in range(THRESHOLD):
        send_message(account, customer, "text", f"m{i}", enqueue=False)
    opened = monitor()
    assert opened["state"] == "open" and opened["account"] == account.phone_number_id
    assert health() == {key: value for key, value in opened.items() if key != "account"}
    assert health()["retry_at"] > health()["opened_at"]  # ISO 8601, UTC: they sort as text
    assert gauge() == 1
    out = StringIO()
    call_command("whatsapp_monitor", stdout=out, stderr=StringIO())
    assert f"circuit    {account.phone_number_id}: open since" in out.getvalue()


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ({"FAILURE_THRESHOLD": 0}, "failure_threshold must be an integer >= 1"),
        ({"ERROR_RATE": 2}, "error_rate must be a number in (0, 1]"),
        ({"COOL_DOWN_SECONDS": 60, "MAX_COOL_DOWN_SECONDS": 30}, "max_cool_down_seconds"),
        ({"COOL_DOWN": 30}, "unknown keys: COOL_DOWN"),
        ({"ENABLED": "yes"}, '["ENABLED"] must be True or False'),
        ({"BACKEND": "postgres://db"}, '["BACKEND"] must be None'),
        ("on", "must be a dict"),
    ],
)
def test_a_bad_setting_is_a_system_check_error_and_stops_sends_loudly(settings, account, value, match):
    from wacloud_django.checks import check_settings
    from wacloud_django.exceptions import SettingError

    settings.WACLOUD = {**settings.WACLOUD, "CIRCUIT_BREAKER": value}
    [error] = [problem for problem in check_settings() if problem.id == "wacloud.E050"]
    assert match in error.msg and 'WACLOUD["CIRCUIT_BREAKER"]' in error.msg
    Contact.objects.create(account=account, wa_id=CUSTOMER, last_inbound_at=timezone.now())
    message = send_message(account, CUSTOMER, "text", "hello")
    with pytest.raises(SettingError, match=r"CIRCUIT_BREAKER"):
        deliver_message(message.pk, can_retry=True)
    message.refresh_from_db()
    assert message.status == Message.Status.QUEUED and message.send_attempts == 0


def test_a_good_setting_passes_the_check(settings):
    from wacloud_django.checks import check_settings

    settings.WACLOUD = {**settings.WACLOUD, "CIRCUIT_BREAKER": {"BACKEND": "sqlite", "ERROR_RATE": None}}
    assert not [problem for problem in check_settings() if problem.id == "wacloud.E050"]


def test_the_send_task_retries_a_deferred_message_when_the_probe_is_due(meta, clock, account, customer):
    from celery import Celery, _state
    from celery.exceptions import Retry

    from wacloud_django import tasks

    meta.set_faults(error_rate=1.0)
    for i in range(THRESHOLD):
        send_message(account, customer, "text", f"m{i}", enqueue=False)
    message = send_message(account, customer, "text", "waits")
    app = Celery("wacloud_circuit_tests", set_as_current=True)
    try:
        # Run as a worker would: the retry is raised with the breaker's countdown.
        task = tasks.send_whatsapp_message
        task.push_request(retries=0, is_eager=False, called_directly=False)
        try:
            with pytest.raises(Retry) as retry:
                task.run(message.pk)
        finally:
            task.pop_request()
        assert COOL_DOWN <= retry.value.when <= COOL_DOWN * 1.1 + 1
        # Eager (tests, scripts): no endless immediate retries; the row waits for the sweep.
        app.conf.task_always_eager = True
        assert task.delay(message.pk).get() == "deferred"
    finally:
        _state._set_current_app(None)
        _state._apps.discard(app)
    message.refresh_from_db()
    assert message.status == Message.Status.QUEUED and message.send_attempts == 0
