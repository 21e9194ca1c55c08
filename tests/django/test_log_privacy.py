"""Logs without personal data (log_privacy.py) and the correlation id (correlation.py):
masking at INFO and above, DEBUG untouched, the setting that allows, and one id from a
webhook to its processing and signals, and from a send to its status webhooks."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.utils import timezone
from wacloud_test_helpers import USER, status_update, text_message

from wacloud_django import correlation, signals
from wacloud_django.log_privacy import PersonalDataFilter, get_logger, mask_phone, redact
from wacloud_django.models import Contact, Message, WebhookEvent
from wacloud_django.services.inbound import process_webhook_event
from wacloud_django.services.outbound import send_message

PACKAGE = Path(__file__).resolve().parents[2] / "django_app" / "wacloud_django"
logger = get_logger("wacloud.tests.privacy")


@pytest.fixture
def records(caplog):
    caplog.set_level(logging.DEBUG, logger="wacloud")
    return caplog


def messages_of(caplog, name: str = "wacloud.tests.privacy") -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == name]


def test_phone_numbers_are_masked_keeping_country_code_and_last_digits():
    assert mask_phone("972123456789") == "+97212****89"
    assert mask_phone("+15551234567") == "+155****67"
    assert mask_phone("5511999990001") == "+5511****01"
    assert mask_phone("12345678") == "+123****78"  # never fewer than three digits hidden


def test_redact_leaves_ids_timestamps_and_words_alone():
    text = "event 42 at 2026-12-02 12:00:05.123, waba 1234567890987654321, sha a1b2c3d4e5f60718293"
    assert redact(text, secrets=[]) == text


def test_info_records_mask_numbers_tokens_and_secrets(records):
    logger.warning(
        "to %s via %s (Authorization: Bearer %s), app secret %s, url ?access_token=%s&x=1",
        USER, "EAAG-test-token", "abc.DEF-123", "global-app-secret", "EAAGxyz",
    )  # fmt: skip
    [message] = messages_of(records)
    assert message == (
        "to +97298****21 via EAA[redacted] (Authorization: Bearer [redacted]), app secret "
        "[redacted secret], url ?access_token=[redacted]&x=1"
    )


def test_the_traceback_is_masked_too(records):
    try:
        raise ValueError(f"no answer for {USER} with EAAG-test-token")
    except ValueError:
        logger.exception("send failed")
    [record] = [r for r in records.records if r.name == "wacloud.tests.privacy"]
    assert "ValueError: no answer for +97298****21 with EAA[redacted]" in record.exc_text
    assert USER not in records.text and "EAAG-test-token" not in records.text


def test_debug_records_keep_the_details(records):
    logger.debug("to %s via %s", USER, "EAAG-test-token")
    assert messages_of(records) == [f"to {USER} via EAAG-test-token"]


@pytest.mark.log_scan_expected  # the full number reaches the log on purpose
def test_log_personal_data_keeps_everything(records, settings):
    settings.WACLOUD = {**settings.WACLOUD, "LOG_PERSONAL_DATA": True}
    logger.info("to %s via %s", USER, "EAAG-test-token")
    assert messages_of(records) == [f"to {USER} via EAAG-test-token"]


def test_the_filter_never_drops_a_record_nor_masks_twice():
    record = logging.LogRecord("wacloud.x", logging.INFO, __file__, 1, "to %s", (USER,), None)
    log_filter = PersonalDataFilter()
    assert log_filter.filter(record) and log_filter.filter(record)
    assert record.getMessage() == "to +97298****21"


def test_every_wacloud_module_takes_its_logger_from_get_logger():
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.name != "log_privacy.py" and re.search(r"logging\.getLogger\(", path.read_text())
    ]
    assert offenders == [], "use wacloud_django.log_privacy.get_logger"


def test_the_app_attaches_the_filters_to_the_wacloud_loggers():
    for name in ("wacloud", "wacloud.inbound", "wacloud.outbound", "wacloud.webhook"):
        kinds = {type(f).__name__ for f in logging.getLogger(name).filters}
        assert {"PersonalDataFilter", "CorrelationIdFilter"} <= kinds, name


# -- correlation id -------------------------------------------------------------------------------


def ids_of(caplog, pattern: str) -> set[str]:
    return {r.correlation_id for r in caplog.records if re.search(pattern, r.getMessage())}


@pytest.fixture
def received_under():
    """The correlation id current in each message_received / message_status_changed receiver."""
    seen: list[tuple[str, str | None]] = []

    def on_received(sender, message=None, **kwargs):
        seen.append(("received", correlation.get()))

    def on_status(sender, message=None, status="", **kwargs):
        seen.append((status, correlation.get()))

    signals.message_received.connect(on_received, dispatch_uid="t-cid-received")
    signals.message_status_changed.connect(on_status, dispatch_uid="t-cid-status")
    yield seen
    signals.message_received.disconnect(dispatch_uid="t-cid-received")
    signals.message_status_changed.disconnect(dispatch_uid="t-cid-status")


def test_a_webhook_and_its_processing_share_the_event_id(records, account, post_webhook, received_under):
    assert post_webhook(text_message("wamid.cid-1", "hi")).status_code == 200
    event = WebhookEvent.objects.get()
    expected = f"webhook-{event.pk}"
    assert ids_of(records, rf"stored as event {event.pk}$") == {expected}  # the intake
    assert ids_of(records, rf"^webhook event {event.pk} processed") == {expected}  # processing
    assert received_under == [("received", expected)]  # the signal sent after the commit
    assert correlation.get() is None  # nothing leaks out of the request


def test_the_callers_request_id_names_the_webhook_and_its_reprocessing(
    records, account, post_webhook, received_under
):
    post_webhook(text_message("wamid.cid-2", "hi"), HTTP_X_REQUEST_ID="req-7f3a.1")
    event = WebhookEvent.objects.get()
    assert event.headers["X-Request-Id"] == "req-7f3a.1"  # kept, so any later run finds it
    assert ids_of(records, rf"^webhook event {event.pk} processed") == {"req-7f3a.1"}
    records.clear()
    process_webhook_event(event.pk, force=True)  # a reprocess, e.g. from the admin or a task
    assert ids_of(records, rf"^webhook event {event.pk} processed") == {"req-7f3a.1"}
    assert received_under == [("received", "req-7f3a.1")]


def test_an_unusable_request_id_is_ignored(records, account, post_webhook):
    post_webhook(text_message("wamid.cid-3"), HTTP_X_REQUEST_ID="forged\nINFO admin logged in")
    event = WebhookEvent.objects.get()
    assert ids_of(records, rf"^webhook event {event.pk} processed") == {f"webhook-{event.pk}"}


def test_a_send_and_its_status_webhooks_share_the_message_id(
    records, account, sandbox, post_webhook, received_under, django_capture_on_commit_callbacks
):
    Contact.objects.create(account=account, wa_id=USER, last_inbound_at=timezone.now())
    sandbox.inject_inbound(**{"from": USER}, name="Ana", type="text", text="hello")
    with django_capture_on_commit_callbacks(execute=True):
        message = send_message(account, USER, "text", "Hi Ana", enqueue=False)
    assert message.status == Message.Status.SENT
    expected = f"message-{message.pk}"
    # The INFO record that maps the wamid to the message, under the message's id.
    assert ids_of(records, rf"^outbound message {message.pk} sent as {re.escape(message.wamid)}$") == {
        expected
    }
    post_webhook(status_update(message.wamid, "delivered"))
    event = WebhookEvent.objects.get()
    assert ids_of(records, rf"^status delivered for {re.escape(message.wamid)}") == {expected}
    assert received_under == [("sent", expected), ("delivered", expected)]
    # The webhook's own records keep the webhook's id.
    assert ids_of(records, rf"^webhook event {event.pk} processed") == {f"webhook-{event.pk}"}


def test_the_handler_filter_gives_every_record_an_id():
    log_filter = correlation.CorrelationIdFilter()
    outside = logging.LogRecord("django.request", logging.INFO, __file__, 1, "x", (), None)
    log_filter.filter(outside)
    with correlation.use("webhook-9"):
        inside = logging.LogRecord("django.request", logging.INFO, __file__, 1, "x", (), None)
        log_filter.filter(inside)
    assert (outside.correlation_id, inside.correlation_id) == ("-", "webhook-9")
    formatted = logging.Formatter("[%(correlation_id)s] %(message)s").format(inside)
    assert formatted == "[webhook-9] x"


def test_django_request_records_of_api_paths_mask_the_phone_number(client, caplog, db):
    # The REST API's paths hold phone numbers; Django logs refused requests with the path.
    caplog.set_level(logging.WARNING, logger="django.request")
    response = client.get(f"/whatsapp/messages/{USER}")
    assert response.status_code in (401, 403, 404)
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.getMessage().endswith("/whatsapp/messages/+97298****21")


def test_a_celery_task_queued_under_an_id_carries_it_in_its_headers():
    from celery import Celery

    app = Celery("correlation-test", broker="memory://", set_as_current=False)
    seen: list[str | None] = []

    @app.task(name="correlation_test.ping")
    def ping() -> None:
        seen.append(correlation.get())

    with correlation.use("webhook-5"):
        ping.apply_async()
        ping.apply()  # eager, in this context: the id stays, before and after
        assert correlation.get() == "webhook-5"
    with app.connection_for_read() as connection:
        message = connection.SimpleQueue("celery").get(timeout=5)
    assert message.headers[correlation.CELERY_HEADER] == "webhook-5"
    # The worker side: the header becomes the current id for the task, and only for it.
    task = SimpleNamespace(request=SimpleNamespace(headers=message.headers))
    correlation.on_task_prerun(task_id="t-1", task=task)
    assert correlation.get() == "webhook-5"
    correlation.on_task_postrun(task_id="t-1")
    assert correlation.get() is None and seen == ["webhook-5"]
