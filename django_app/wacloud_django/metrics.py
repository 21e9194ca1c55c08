"""Prometheus metrics (opt-in: ``pip install "wacloud[metrics]"`` and
``WACLOUD["METRICS"]["ENABLED"] = True``; docs/operations.md, "Metrics").

Two kinds of numbers:

- counters and the latency histogram are kept by signal receivers in the process
  that did the work (a web worker for webhooks, a Celery worker for sends), in
  :data:`REGISTRY`, a registry of our own so a host's default registry is not
  touched unless it asks (:func:`register_in`);
- backlogs (pending webhook events, the outbox, failed-retriable and
  delivery-unknown messages) are read from the database at scrape time by
  :class:`DatabaseCollector`: a few indexed ``COUNT`` queries, right whichever
  process answers the scrape.

With several processes (gunicorn workers, Celery) set the environment variable
``PROMETHEUS_MULTIPROC_DIR`` before anything imports ``prometheus_client``: the
counters are then written to files there and :func:`exposition` merges them.

This module imports without ``prometheus_client``; the receivers are connected only
when it is installed, and the system check ``wacloud.E030`` says what to install when
metrics are enabled without it.
"""

from __future__ import annotations

import hmac
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core import checks

from .conf import get_setting, setting_name
from .exceptions import SettingError

INSTALL_HINT = 'pip install "wacloud[metrics]"'
#: Seconds from a webhook's intake to the end of its processing.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
#: Seconds a send waited for a rate limiter slot, and seconds one Graph API call took.
WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
CALL_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
#: A wait at least this long counts as one in ``wacloud_rate_limit_waits_total``.
WAITED_SECONDS = 0.001

try:
    import prometheus_client
except ImportError:  # the [metrics] extra is not installed
    prometheus_client = None  # type: ignore[assignment]


def installed() -> bool:
    return prometheus_client is not None


def metrics_settings() -> dict[str, Any]:
    """``WACLOUD["METRICS"]`` merged over its defaults, read at call time."""
    return get_setting("METRICS")


def enabled() -> bool:
    return bool(metrics_settings().get("ENABLED"))


def token_matches(header: str | None) -> bool:
    """Whether ``Authorization`` carries ``Bearer <TOKEN>``, or no token is configured."""
    token = metrics_settings().get("TOKEN")
    if not token:
        return True
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), str(token).encode())


@checks.register(checks.Tags.compatibility)
def check_metrics(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    if not isinstance(getattr(settings, "WACLOUD", None), (dict, type(None))):
        return []  # wacloud.E001 (checks.py) says so
    try:
        conf = metrics_settings()
    except SettingError as exc:  # METRICS is not a dict
        return [checks.Error(str(exc), id="wacloud.E030")]
    problems = []
    unknown = sorted(set(conf) - {"ENABLED", "TOKEN"})
    if unknown:
        problems.append(checks.Error(
            f"Unknown key(s) in {setting_name('METRICS')}: {', '.join(unknown)}",
            hint="Known keys: ENABLED, TOKEN", id="wacloud.E030",
        ))  # fmt: skip
    if not isinstance(conf.get("ENABLED"), bool):
        problems.append(checks.Error(
            f"{setting_name('METRICS', 'ENABLED')} must be True or False, got {conf.get('ENABLED')!r}",
            id="wacloud.E030",
        ))  # fmt: skip
    token = conf.get("TOKEN")
    if token is not None and (not isinstance(token, str) or not token):
        problems.append(checks.Error(
            f"{setting_name('METRICS', 'TOKEN')} must be a non-empty string or None", id="wacloud.E030"
        ))  # fmt: skip
    if conf.get("ENABLED") is True and not installed():
        problems.append(checks.Error(
            f"{setting_name('METRICS', 'ENABLED')} is True but prometheus_client is not installed",
            hint=f"Install it with: {INSTALL_HINT}", id="wacloud.E030",
        ))  # fmt: skip
    return problems


if prometheus_client is not None:
    from prometheus_client import CollectorRegistry, Counter, Histogram
    from prometheus_client.core import GaugeMetricFamily

    #: wacloud's own registry; a host adds it to another with :func:`register_in`.
    REGISTRY = CollectorRegistry(auto_describe=True)

    MESSAGES_SENT = Counter(
        "wacloud_messages_sent", "Outbound messages Meta accepted (status sent), by message type.",
        ["type"], registry=REGISTRY,
    )  # fmt: skip
    MESSAGES_FAILED = Counter(
        "wacloud_messages_failed",
        "Outbound messages that ended failed (a refused send or Meta's failed status), by type and "
        "error code (\"none\" when there was no code).",
        ["type", "error_code"], registry=REGISTRY,
    )  # fmt: skip
    MESSAGE_STATUSES = Counter(
        "wacloud_message_statuses", "Message status changes applied, by direction and new status.",
        ["direction", "status"], registry=REGISTRY,
    )  # fmt: skip
    WEBHOOK_EVENTS = Counter(
        "wacloud_webhook_events", "Events parsed from webhooks and applied, by event type.",
        ["type"], registry=REGISTRY,
    )  # fmt: skip
    WEBHOOK_ERRORS = Counter(
        "wacloud_webhook_errors", "Webhook errors (the webhook_error signal), by reason.",
        ["reason"], registry=REGISTRY,
    )  # fmt: skip
    WEBHOOK_LATENCY = Histogram(
        "wacloud_webhook_processing_seconds",
        "Seconds from storing a webhook (received_at) to the end of its processing (processed_at).",
        buckets=LATENCY_BUCKETS, registry=REGISTRY,
    )  # fmt: skip

    RATE_LIMIT_WAITS = Counter(
        "wacloud_rate_limit_waits",
        "Sends the rate limiter made wait (1 ms or more), by outcome (acquired, or timed_out: no slot).",
        ["outcome"], registry=REGISTRY,
    )  # fmt: skip
    RATE_LIMIT_WAIT = Histogram(
        "wacloud_rate_limit_wait_seconds", "Seconds each send waited for a rate limiter slot.",
        buckets=WAIT_BUCKETS, registry=REGISTRY,
    )  # fmt: skip
    META_CALL_LATENCY = Histogram(
        "wacloud_meta_call_seconds",
        "Seconds per Graph API call of the Django services (the client's own retries included, the "
        "rate limiter's wait not), by endpoint and outcome (ok, error).",
        ["endpoint", "outcome"], buckets=CALL_BUCKETS, registry=REGISTRY,
    )  # fmt: skip

    class DatabaseCollector:
        """Backlog gauges counted from the database at scrape time."""

        def describe(self) -> list[Any]:
            return []  # the names are fixed; describing must not query the database

        def collect(self) -> Iterator[Any]:
            yield from database_gauges()

    REGISTRY.register(DatabaseCollector())

    def register_in(registry: Any = None) -> None:
        """Expose wacloud's metrics through ``registry`` too (the default registry when
        ``None``), for hosts that serve one ``/metrics`` of their own."""
        (registry or prometheus_client.REGISTRY).register(_Forward())

    class _Forward:
        def describe(self) -> list[Any]:
            return []

        def collect(self) -> Iterator[Any]:
            yield from exposition_registry().collect()

    def database_gauges() -> list[Any]:
        from django.db.models import Count, Min
        from django.utils import timezone

        from .models import Message, WebhookEvent

        now = timezone.now()
        backlog_statuses = [
            WebhookEvent.Status.PENDING,
            WebhookEvent.Status.PROCESSING,
            WebhookEvent.Status.FAILED,
        ]
        by_status = dict(
            WebhookEvent.objects.filter(status__in=backlog_statuses)
            .order_by()
            .values_list("status")
            .annotate(n=Count("pk"))
        )
        failed_retriable_events = WebhookEvent.objects.filter(
            status=WebhookEvent.Status.FAILED, retriable=True
        ).count()
        oldest_pending = (
            WebhookEvent.objects.filter(status=WebhookEvent.Status.PENDING)
            .order_by("received_at")
            .values_list("received_at", flat=True)
            .first()
        )
        queued = Message.objects.filter(status=Message.Status.QUEUED).aggregate(
            n=Count("pk"), oldest=Min("created_at")
        )
        failures = dict(
            Message.objects.filter(status=Message.Status.FAILED, direction=Message.Direction.OUTBOUND)
            .exclude(failure_kind="")
            .order_by()
            .values_list("failure_kind")
            .annotate(n=Count("pk"))
        )

        def gauge(name: str, doc: str, value: float) -> Any:
            return GaugeMetricFamily(name, doc, value=value)

        def age(since: Any) -> float:
            return max((now - since).total_seconds(), 0.0) if since else 0.0

        webhooks = GaugeMetricFamily(
            "wacloud_webhook_events_backlog",
            "Stored webhook events not processed yet, by status (pending, processing, failed).",
            labels=["status"],
        )
        for status in ("pending", "processing", "failed"):
            webhooks.add_metric([status], by_status.get(status, 0))
        return [
            webhooks,
            circuit_gauge(),
            gauge("wacloud_webhook_events_failed_retriable",
                  "Failed webhook events a retry may still fix (retriable).", failed_retriable_events),
            gauge("wacloud_webhook_oldest_pending_age_seconds",
                  "Age of the oldest pending webhook event (0: none pending).", age(oldest_pending)),
            gauge("wacloud_messages_queued", "Outbound messages waiting in the outbox (status queued).",
                  queued["n"]),
            gauge("wacloud_messages_oldest_queued_age_seconds",
                  "Age of the oldest queued outbound message (0: none queued).", age(queued["oldest"])),
            gauge("wacloud_messages_failed_retriable",
                  "Failed outbound messages that never reached Meta: safe to retry.",
                  failures.get(Message.SendFailure.RETRIABLE, 0)),
            gauge("wacloud_messages_delivery_unknown",
                  "Failed outbound messages that may have reached Meta: a human decides.",
                  failures.get(Message.SendFailure.UNKNOWN, 0)),
        ]  # fmt: skip

    def circuit_gauge() -> Any:
        """The circuit breaker of each active account, read from its shared store at scrape
        time (with the memory backend: the scraping process's own view)."""
        from .models import BusinessAccount
        from .services.circuit import STATE_VALUES, circuit_status

        family = GaugeMetricFamily(
            "wacloud_circuit_state",
            "Circuit breaker per account: 0 closed (sending), 1 open (sends wait), 2 half-open "
            "(one probe in flight). Absent while the breaker is disabled.",
            labels=["phone_number_id"],
        )
        for account in BusinessAccount.objects.filter(is_active=True).order_by("pk"):
            try:
                status = circuit_status(account)
            except Exception:  # the breaker's store is down: no value rather than a failed scrape
                continue
            if status is not None:
                family.add_metric([account.phone_number_id], STATE_VALUES[status.state])
        return family

    def multiprocess_dir() -> str | None:
        return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")

    def exposition_registry() -> Any:
        """What a scrape reads: :data:`REGISTRY`, or, in multiprocess mode, the counters
        every process wrote to ``PROMETHEUS_MULTIPROC_DIR`` plus the database gauges."""
        if not multiprocess_dir():
            return REGISTRY
        from prometheus_client import multiprocess

        registry = CollectorRegistry(auto_describe=True)
        multiprocess.MultiProcessCollector(registry)
        registry.register(DatabaseCollector())
        return registry

    def exposition() -> tuple[bytes, str]:
        """The text exposition format and its content type."""
        return prometheus_client.generate_latest(exposition_registry()), prometheus_client.CONTENT_TYPE_LATEST

    # --- signal receivers ----------------------------------------------------------------

    # Latency is observed once per webhook event, but webhook_event_received is sent per
    # item: the (id, received_at) of recently observed events (bounded) keep the second item out;
    # received_at too, because a database may hand a freed id out again.
    _observed: OrderedDict[tuple[int, Any], None] = OrderedDict()
    _observed_lock = threading.Lock()
    _OBSERVED_MAX = 10_000

    def _first_time(key: tuple[int, Any]) -> bool:
        with _observed_lock:
            if key in _observed:
                return False
            _observed[key] = None
            if len(_observed) > _OBSERVED_MAX:
                _observed.popitem(last=False)
            return True

    def on_status_changed(sender: Any, message: Any = None, status: str = "", **kwargs: Any) -> None:
        if message is None or not enabled():
            return
        direction = str(message.direction or "unknown")
        MESSAGE_STATUSES.labels(direction, str(status)).inc()
        if direction != "outbound":
            return
        if status == "sent":
            MESSAGES_SENT.labels(str(message.type or "unknown")).inc()
        elif status == "failed":
            code = "none" if message.error_code is None else str(message.error_code)
            MESSAGES_FAILED.labels(str(message.type or "unknown"), code).inc()

    def on_webhook_event(sender: Any, event: Any = None, webhook_event: Any = None, **kwargs: Any) -> None:
        if not enabled():
            return
        WEBHOOK_EVENTS.labels(str(getattr(event, "event_type", None) or "unknown")).inc()
        if webhook_event is None or webhook_event.pk is None:
            return
        done, received = webhook_event.processed_at, webhook_event.received_at
        if done is not None and received is not None and _first_time((webhook_event.pk, received)):
            WEBHOOK_LATENCY.observe(max((done - received).total_seconds(), 0.0))

    def on_webhook_error(sender: Any, reason: str = "", **kwargs: Any) -> None:
        if enabled():
            WEBHOOK_ERRORS.labels(str(reason or "unknown")).inc()

    def connect() -> None:
        from . import signals

        uid = "wacloud_django.metrics"
        signals.message_status_changed.connect(on_status_changed, dispatch_uid=f"{uid}.status")
        signals.webhook_event_received.connect(on_webhook_event, dispatch_uid=f"{uid}.event")
        signals.webhook_error.connect(on_webhook_error, dispatch_uid=f"{uid}.error")

    connect()


def observe_rate_limit_wait(seconds: float, acquired: bool) -> None:
    """One rate limiter acquisition (services/instrumentation.py); nothing while disabled."""
    if prometheus_client is None or not enabled():
        return
    RATE_LIMIT_WAIT.observe(seconds)
    if seconds >= WAITED_SECONDS or not acquired:
        RATE_LIMIT_WAITS.labels("acquired" if acquired else "timed_out").inc()


def observe_meta_call(endpoint: str, seconds: float, ok: bool) -> None:
    """One Graph API call (services/instrumentation.py); nothing while disabled."""
    if prometheus_client is not None and enabled():
        META_CALL_LATENCY.labels(endpoint, "ok" if ok else "error").observe(max(seconds, 0.0))
