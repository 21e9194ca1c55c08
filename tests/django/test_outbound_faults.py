"""The send step under the sandbox's faults: throttling and server errors are
retried, an unknown outcome is never resent, duplicates send once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from wacloud_django import tasks
from wacloud_django.models import Contact, Message
from wacloud_django.services.outbound import deliver_message, retry_failed_messages, send_message

pytestmark = pytest.mark.django_db

CUSTOMER = "15550002222"


@pytest.fixture
def sandbox(sandbox_server, settings):
    sandbox_server.reset()
    sandbox_server.clear_faults()
    settings.WACLOUD = {
        **settings.WACLOUD,
        "BASE_URL": sandbox_server.base_url,
        "REQUEST_TIMEOUT": 1,  # the timeout fault holds answers for longer
        "MAX_RETRIES": 1,  # the client's own retries; the task's are counted by SEND_MAX_ATTEMPTS
        "SEND_MAX_ATTEMPTS": 3,
        "TASK_RETRY_BACKOFF_SECONDS": 2,
    }
    yield sandbox_server
    sandbox_server.clear_faults()


@pytest.fixture
def queued(sandbox, account):
    """A text message in the outbox (window open on both sides), not sent yet."""
    sandbox.inject_inbound(**{"from": CUSTOMER}, name="Bo", type="text", text="hi")
    Contact.objects.create(account=account, wa_id=CUSTOMER, last_inbound_at=timezone.now())
    return send_message(account, CUSTOMER, "text", "hello Bo")  # enqueue: runs only on commit


def test_a_short_429_burst_is_retried_by_the_client_then_sent(sandbox, queued):
    sandbox.set_faults(rate_limit_next=1)
    assert deliver_message(queued.pk).outcome == "sent"
    assert len(sandbox.sent_messages(to=CUSTOMER)) == 1


def test_a_long_429_burst_is_retried_by_the_task_with_backoff(sandbox, queued):
    sandbox.set_faults(rate_limit_next=2)  # more than the client's one retry
    first = deliver_message(queued.pk, can_retry=True)
    assert first.outcome == "retry" and first.retry_in >= 2
    queued.refresh_from_db()
    assert queued.status == Message.Status.QUEUED and queued.error_code == 130429
    assert queued.sending_since is None and queued.send_attempts == 1
    second = deliver_message(queued.pk, can_retry=True)
    assert second.outcome == "sent"
    queued.refresh_from_db()
    assert queued.status == Message.Status.SENT and queued.error_code is None and queued.send_attempts == 2
    assert len(sandbox.sent_messages(to=CUSTOMER)) == 1


def test_server_errors_are_retried_up_to_the_limit_then_failed_as_retriable(sandbox, queued):
    sandbox.set_faults(error_rate=1.0)
    outcomes = [deliver_message(queued.pk, can_retry=True).outcome for _ in range(3)]
    assert outcomes == ["retry", "retry", "failed"]
    queued.refresh_from_db()
    assert queued.status == Message.Status.FAILED
    assert queued.failure_kind == Message.SendFailure.RETRIABLE and queued.error_code in (2, 131000)
    # Once Meta recovers, the sweep requeues it and it goes out once.
    sandbox.clear_faults()
    assert retry_failed_messages() == {"requeued": 1, "rescheduled": 0, "not_retriable": 0}
    queued.refresh_from_db()
    assert queued.status == Message.Status.SENT and queued.wamid
    assert len(sandbox.sent_messages(to=CUSTOMER)) == 1


def test_a_timeout_is_delivery_unknown_and_never_resent(sandbox, queued):
    sandbox.set_faults(timeout_next=1, timeout_seconds=3)
    result = deliver_message(queued.pk, can_retry=True)
    assert result.outcome == "unknown"
    queued.refresh_from_db()
    assert queued.status == Message.Status.FAILED and queued.failure_kind == Message.SendFailure.UNKNOWN
    assert queued.error_title == "DeliveryUnknown" and queued.wamid is None
    # The sandbox did process it: a resend would be a duplicate for the customer.
    assert len(sandbox.sent_messages(to=CUSTOMER)) == 1
    assert retry_failed_messages()["requeued"] == 0
    assert deliver_message(queued.pk, can_retry=True).outcome == "skipped"
    assert len(sandbox.sent_messages(to=CUSTOMER)) == 1
    # Only a human's explicit decision resends it.
    assert retry_failed_messages([queued.pk], include_unknown=True)["requeued"] == 1
    assert len(sandbox.sent_messages(to=CUSTOMER)) == 2


def test_meta_refusing_outside_its_window_fails_permanently(sandbox, account):
    # Our database believes the window is open; Meta (the sandbox) never saw the customer write.
    Contact.objects.create(account=account, wa_id=CUSTOMER, last_inbound_at=timezone.now())
    message = send_message(account, CUSTOMER, "text", "hello?", enqueue=False)
    assert message.status == Message.Status.FAILED and message.error_code == 131047
    assert message.failure_kind == Message.SendFailure.PERMANENT
    assert retry_failed_messages()["requeued"] == 0
    assert sandbox.sent_messages() == []


def test_the_same_task_delivered_twice_sends_once(sandbox, queued):
    assert tasks.send_whatsapp_message(queued.pk) == "sent"
    assert tasks.send_whatsapp_message(queued.pk) == "skipped"
    assert len(sandbox.sent_messages(to=CUSTOMER)) == 1


def test_a_fresh_claim_means_another_sender_is_at_work(sandbox, queued):
    Message.objects.filter(pk=queued.pk).update(sending_since=timezone.now())
    assert deliver_message(queued.pk).outcome == "in_progress"
    assert sandbox.sent_messages() == []


def test_the_sweep_stand_in_sends_a_claim_left_to_its_lease_under_a_stopped_clock(sandbox, queued):
    """The race tests' stand-in for the sweep (schedule_support.deliver_left_queued) must send a
    row whose claim a racing thread could not release, even while their Clock holds time still."""
    from schedule_support import Clock, deliver_left_queued

    with Clock(timezone.now()) as clock:
        Message.objects.filter(pk=queued.pk).update(sending_since=clock.now)
        assert deliver_message(queued.pk).outcome == "in_progress"
        deliver_left_queued()
    queued.refresh_from_db()
    assert queued.status == Message.Status.SENT
    assert len(sandbox.sent_messages(to=CUSTOMER)) == 1


def test_a_stale_claim_handed_to_the_network_means_the_outcome_is_unknown(sandbox, queued):
    claimed = timezone.now() - timedelta(hours=1)
    Message.objects.filter(pk=queued.pk).update(sending_since=claimed, handed_off_at=claimed)
    assert deliver_message(queued.pk).outcome == "unknown"
    queued.refresh_from_db()
    assert (
        queued.failure_kind == Message.SendFailure.UNKNOWN
        and "never recorded an answer" in queued.error_message
    )
    assert sandbox.sent_messages() == []


def test_a_stale_claim_that_never_reached_the_network_is_sent(sandbox, queued):
    # The sender died before its request left (e.g. waiting for the rate limiter); an earlier
    # attempt's hand-off does not count for this claim.
    claimed = timezone.now() - timedelta(hours=1)
    Message.objects.filter(pk=queued.pk).update(
        sending_since=claimed, handed_off_at=claimed - timedelta(minutes=5), send_attempts=1
    )
    assert deliver_message(queued.pk).outcome == "sent"
    queued.refresh_from_db()
    assert queued.status == Message.Status.SENT and queued.send_attempts == 2
    assert queued.handed_off_at > claimed
    assert len(sandbox.sent_messages(to=CUSTOMER)) == 1


def test_the_hand_off_is_recorded_before_the_request(sandbox, queued, monkeypatch):
    from wacloud_django.services import outbound

    seen = []
    real_client_for = outbound.client_for

    def spying_client_for(account):
        client = real_client_for(account)
        real_send = client.send

        class Spy:
            def __getattr__(self, name):
                return getattr(client, name)

            def send(self, *args, **kwargs):
                seen.append(Message.objects.values_list("handed_off_at", flat=True).get(pk=queued.pk))
                return real_send(*args, **kwargs)

        return Spy()

    monkeypatch.setattr(outbound, "client_for", spying_client_for)
    assert deliver_message(queued.pk).outcome == "sent"
    assert seen and seen[0] is not None


def test_a_queued_row_whose_task_was_lost_is_rescheduled(sandbox, queued):
    Message.objects.filter(pk=queued.pk).update(updated_at=timezone.now() - timedelta(minutes=30))
    assert retry_failed_messages() == {"requeued": 0, "rescheduled": 1, "not_retriable": 0}
    queued.refresh_from_db()
    assert queued.status == Message.Status.SENT


def test_a_timed_out_media_upload_is_retried_not_left_unknown(sandbox, account, monkeypatch):
    from test_outbound import PNG

    from wacloud.errors import DeliveryUnknown
    from wacloud_django.services import outbound

    real_client_for = outbound.client_for

    class UploadTimesOutOnce:
        """The upload's answer is lost once (the media may or may not be stored at Meta)."""

        timeouts = 1

        def __init__(self, client):
            self.client = client
            self.send = client.send

        def upload_media(self, *args, **kwargs):
            if UploadTimesOutOnce.timeouts:
                UploadTimesOutOnce.timeouts -= 1
                raise DeliveryUnknown("no answer to the upload")
            return self.client.upload_media(*args, **kwargs)

    monkeypatch.setattr(outbound, "client_for", lambda acc: UploadTimesOutOnce(real_client_for(acc)))
    sandbox.inject_inbound(**{"from": CUSTOMER}, name="Bo", type="text", text="hi")
    Contact.objects.create(account=account, wa_id=CUSTOMER, last_inbound_at=timezone.now())
    message = send_message(account, CUSTOMER, "image", media=PNG)
    # Uploading again is invisible to the customer, so it is retried, not left for a human.
    assert deliver_message(message.pk, can_retry=True).outcome == "retry"
    assert deliver_message(message.pk, can_retry=True).outcome == "sent"
    assert len(sandbox.sent_messages(to=CUSTOMER)) == 1


def test_a_wrong_encryption_key_fails_retriably_and_recovers_once_fixed(sandbox, queued, settings):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    good_key = settings.WACLOUD["ENCRYPTION_KEY"]
    settings.WACLOUD = {**settings.WACLOUD, "ENCRYPTION_KEY": "1f" * 32}
    result = deliver_message(queued.pk)
    queued.refresh_from_db()
    assert result.outcome == "failed" and queued.failure_kind == Message.SendFailure.RETRIABLE
    assert 'WACLOUD["ENCRYPTION_KEY"]' in queued.error_message and sandbox.sent_messages() == []
    with pytest.raises(SystemCheckError, match=r"wacloud\.E015.*cannot decrypt 3 stored secret"):
        call_command("check")

    settings.WACLOUD = {**settings.WACLOUD, "ENCRYPTION_KEY": good_key}
    call_command("check")  # the right key reads everything again
    assert retry_failed_messages()["requeued"] == 1
    queued.refresh_from_db()
    assert queued.status == Message.Status.SENT and len(sandbox.sent_messages(to=CUSTOMER)) == 1


def test_an_old_key_listed_as_fallback_passes_the_check(account, settings):
    from django.core.management import call_command

    settings.WACLOUD = {
        **settings.WACLOUD,
        "ENCRYPTION_KEY": "2e" * 32,
        "ENCRYPTION_KEY_FALLBACKS": [settings.WACLOUD["ENCRYPTION_KEY"]],
    }
    call_command("check")


def test_a_database_error_before_the_request_leaves_keeps_the_message_queued(sandbox, queued, monkeypatch):
    """SQLite's "table is locked" (or a dropped connection) while preparing the send: nothing
    reached Meta, so the row is queued again, and the next sender sends it exactly once."""
    from django.db import OperationalError

    from wacloud_django.services import outbound

    def locked(*args, **kwargs):
        raise OperationalError("database table is locked: wacloud_message")

    with monkeypatch.context() as patch:
        patch.setattr(outbound, "build_message", locked)
        result = deliver_message(queued.pk)
    assert (result.outcome, result.status) == ("retry", Message.Status.QUEUED)
    queued.refresh_from_db()
    assert queued.status == Message.Status.QUEUED and queued.sending_since is None
    assert queued.handed_off_at is None and sandbox.sent_messages() == []

    assert deliver_message(queued.pk).outcome == "sent"
    assert len(sandbox.sent_messages()) == 1


def test_a_database_error_after_the_request_left_is_unknown(sandbox, queued, monkeypatch):
    from django.db import OperationalError

    from wacloud_django.services import outbound

    real = outbound.client_for

    def answered_then_locked(account):
        client = real(account)

        class Client:
            def send(self, *args, **kwargs):
                client.send(*args, **kwargs)
                raise OperationalError("database table is locked: wacloud_message")

            def __getattr__(self, name):
                return getattr(client, name)

        return Client()

    monkeypatch.setattr(outbound, "client_for", answered_then_locked)
    assert deliver_message(queued.pk).outcome == "unknown"
    queued.refresh_from_db()
    assert queued.failure_kind == Message.SendFailure.UNKNOWN
    assert len(sandbox.sent_messages()) == 1
