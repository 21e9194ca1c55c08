"""Tasks: inline vs Celery (eager), retries, broker outages, media downloads, cleanup,
and importing the tasks module without Celery."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from wacloud_test_helpers import USER, dumps, envelope, text_message

from wacloud.errors import MediaError
from wacloud_django import tasks
from wacloud_django.conf import use_celery
from wacloud_django.models import BusinessAccount, MediaFile, Message, PendingStatus, WebhookEvent
from wacloud_django.services import inbound
from wacloud_django.services import media as media_service
from wacloud_django.services.webhooks import (
    cleanup_old_webhook_events,
    process_pending_webhook_events,
    record_webhook_event,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def celery_app(settings):
    """A project Celery app running tasks eagerly (in-process), removed afterwards."""
    from celery import Celery, _state

    app = Celery("wacloud_tests", set_as_current=True)
    app.conf.task_always_eager = True
    app.conf.task_store_eager_result = False
    ran = []
    from celery.signals import task_prerun

    def record(sender=None, **kwargs):
        ran.append(sender.name)

    task_prerun.connect(record, weak=False)
    settings.WACLOUD = {**settings.WACLOUD, "USE_CELERY": True, "TASK_RETRY_BACKOFF_SECONDS": 1}
    yield ran
    task_prerun.disconnect(record)
    _state._set_current_app(None)
    _state._apps.discard(app)  # so later tests see no project app ("auto" -> inline)


def test_auto_uses_celery_only_when_the_project_made_an_app(settings, celery_app):
    settings.WACLOUD = {**settings.WACLOUD, "USE_CELERY": "auto"}
    assert use_celery() is True


def test_inline_mode_processes_without_celery(post_webhook, account, settings):
    settings.WACLOUD = {**settings.WACLOUD, "USE_CELERY": False}
    assert post_webhook(text_message("wamid.1")).status_code == 200
    assert WebhookEvent.objects.get().status == "processed"
    assert Message.objects.filter(wamid="wamid.1").exists()


def test_celery_mode_processes_through_the_task(post_webhook, account, celery_app):
    assert post_webhook(text_message("wamid.1")).status_code == 200
    assert celery_app == ["wacloud_django.tasks.process_webhook_event"]
    assert WebhookEvent.objects.get().status == "processed"
    assert Message.objects.filter(wamid="wamid.1").exists()


def test_celery_task_retries_with_backoff_then_gives_up(account, celery_app, settings, monkeypatch):
    settings.WACLOUD = {**settings.WACLOUD, "WEBHOOK_MAX_ATTEMPTS": 3}
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(inbound, "store_inbound_message", broken)
    event, _ = record_webhook_event(dumps(text_message("wamid.1")), signature_verified=True, account=account)
    with pytest.raises(RuntimeError, match="database hiccup"):
        tasks.process_webhook_event.delay(event.pk).get()
    event.refresh_from_db()
    assert (event.status, event.attempts, len(calls)) == ("failed", 3, 3)


def test_broker_outage_keeps_the_event_pending_and_the_sweeper_recovers(
    post_webhook, account, settings, celery_app, monkeypatch, django_capture_on_commit_callbacks
):
    def down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks, "process_webhook_event", SimpleNamespace(delay=down))
    assert post_webhook(text_message("wamid.1")).status_code == 200  # stored, so acknowledged
    event = WebhookEvent.objects.get()
    assert event.status == "pending" and Message.objects.count() == 0

    settings.WACLOUD = {**settings.WACLOUD, "USE_CELERY": False}
    with django_capture_on_commit_callbacks(execute=True):
        assert process_pending_webhook_events(older_than=timedelta(0)) == 1
    event.refresh_from_db()
    assert event.status == "processed" and Message.objects.count() == 1


def test_tasks_module_imports_and_runs_without_celery(monkeypatch, account):
    monkeypatch.setitem(sys.modules, "celery", None)  # "import celery" now raises ImportError
    path = Path(tasks.__file__)
    spec = importlib.util.spec_from_file_location("wacloud_django._tasks_without_celery", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.shared_task is None
    event, _ = record_webhook_event(dumps(text_message("wamid.1")), signature_verified=True, account=account)
    assert module.process_webhook_event(event.pk) == "processed"
    assert module.cleanup_old_webhook_events() == {"webhook_events": 0, "pending_statuses": 0}
    with pytest.raises(ImproperlyConfigured, match="needs Celery"):
        module.process_webhook_event.delay(event.pk)


# -- media ---------------------------------------------------------------------------------------

IMAGE = b"\xff\xd8\xff\xe0" + b"jpeg bytes" * 100


class FakeClient:
    def __init__(self, data=IMAGE, error=None):
        self.data, self.error, self.calls = data, error, []

    def download_media(self, media_id, dest):
        self.calls.append(media_id)
        if self.error:
            raise self.error
        Path(dest).write_bytes(self.data)


def image_message(wamid="wamid.img", media_id="media-1"):
    image = {"mime_type": "image/jpeg", "sha256": "announced", "id": media_id, "caption": "look"}
    item = {"from": USER, "id": wamid, "timestamp": "1697043379", "type": "image", "image": image}
    return envelope({"messages": [item]})


@pytest.fixture
def client_factory(monkeypatch):
    made = {}

    def install(fake):
        made["client"] = fake
        monkeypatch.setattr(media_service, "client_for_account", lambda account: fake)
        return fake

    return install


def test_inbound_media_is_downloaded_hashed_and_stored(post_webhook, account, settings, client_factory):
    settings.WACLOUD = {**settings.WACLOUD, "MEDIA_DOWNLOAD": True}
    fake = client_factory(FakeClient())
    post_webhook(image_message())
    media_file = MediaFile.objects.get()
    assert media_file.download_status == "downloaded" and fake.calls == ["media-1"]
    assert media_file.sha256 == hashlib.sha256(IMAGE).hexdigest() and media_file.size == len(IMAGE)
    assert (media_file.expected_sha256, media_file.mime_type, media_file.caption) == (
        "announced",
        "image/jpeg",
        "look",
    )
    assert media_file.file.name.endswith("media-1.jpg")
    with media_file.file.open("rb") as handle:
        assert handle.read() == IMAGE
    assert media_file.message.text == "look"
    # Idempotent: a second run does not fetch again.
    media_service.download_media_file(media_file.pk)
    assert fake.calls == ["media-1"]


def test_failed_download_is_recorded_not_lost(post_webhook, account, settings, client_factory):
    settings.WACLOUD = {**settings.WACLOUD, "MEDIA_DOWNLOAD": True}
    client_factory(FakeClient(error=MediaError("SHA-256 mismatch", code=131052)))
    assert post_webhook(image_message()).status_code == 200
    media_file = MediaFile.objects.get()
    assert (media_file.download_status, media_file.download_attempts) == ("failed", 1)
    assert media_file.download_error == "MediaError: SHA-256 mismatch"
    assert WebhookEvent.objects.get().status == "processed"  # the message itself is stored
    client_factory(FakeClient())
    assert media_service.download_media_file(media_file.pk).download_status == "downloaded"


def test_download_without_access_token_names_the_account(db):
    from wacloud_django.exceptions import AccountNotConfigured

    account = BusinessAccount.objects.create(phone_number_id="42")
    media_file = MediaFile.objects.create(account=account, media_id="m")
    with pytest.raises(AccountNotConfigured, match="account 42 has no access token"):
        media_service.download_media_file(media_file.pk)
    media_file.refresh_from_db()
    assert media_file.download_status == "failed" and "no access token" in media_file.download_error


def test_media_is_not_downloaded_when_disabled(post_webhook, account, client_factory):
    fake = client_factory(FakeClient())
    post_webhook(image_message())
    assert MediaFile.objects.get().download_status == "pending" and fake.calls == []


# -- cleanup -------------------------------------------------------------------------------------


def test_cleanup_deletes_only_old_processed_events_and_stale_pending_statuses(db, settings):
    old = timezone.now() - timedelta(days=40)
    for index, status in enumerate(["processed", "failed", "pending"]):
        event, _ = record_webhook_event(f"old-{index}".encode(), signature_verified=True)
        WebhookEvent.objects.filter(pk=event.pk).update(status=status, received_at=old)
    record_webhook_event(b"recent", signature_verified=True)
    WebhookEvent.objects.filter(body_sha256__isnull=False, received_at__gt=old).update(status="processed")
    stale = PendingStatus.objects.create(wamid="wamid.gone", status="sent")
    PendingStatus.objects.filter(pk=stale.pk).update(created_at=old)
    PendingStatus.objects.create(wamid="wamid.soon", status="sent")

    assert cleanup_old_webhook_events() == {"webhook_events": 1, "pending_statuses": 1}
    assert sorted(WebhookEvent.objects.values_list("status", flat=True)) == ["failed", "pending", "processed"]
    assert list(PendingStatus.objects.values_list("wamid", flat=True)) == ["wamid.soon"]
    settings.WACLOUD = {**settings.WACLOUD, "WEBHOOK_EVENT_RETENTION_DAYS": None}
    assert cleanup_old_webhook_events() == {"webhook_events": 0, "pending_statuses": 0}


# -- AUTO_MARK_READ ------------------------------------------------------------------------------


class ReadReceipts:
    def __init__(self, error=None):
        self.read, self.error = [], error

    def mark_read(self, wamid):
        if self.error:
            raise self.error
        self.read.append(wamid)


def test_auto_mark_read_marks_inbound_messages_only(post_webhook, account, settings, monkeypatch):
    fake = ReadReceipts()
    monkeypatch.setattr(inbound, "client_for_account", lambda account: fake)
    post_webhook(text_message("wamid.1"))
    assert fake.read == []  # off by default
    settings.WACLOUD = {**settings.WACLOUD, "AUTO_MARK_READ": True}
    post_webhook(text_message("wamid.2"))
    echo = {"from": "972123456789", "to": USER, "id": "wamid.echo", "timestamp": "1", "type": "text",
            "text": {"body": "x"}}  # fmt: skip
    post_webhook(envelope({"message_echoes": [echo]}, field="smb_message_echoes"))
    assert fake.read == ["wamid.2"]


def test_auto_mark_read_failure_does_not_fail_the_event(post_webhook, account, settings, monkeypatch):
    monkeypatch.setattr(
        inbound, "client_for_account", lambda account: ReadReceipts(ConnectionError("offline"))
    )
    settings.WACLOUD = {**settings.WACLOUD, "AUTO_MARK_READ": True}
    assert post_webhook(text_message("wamid.1")).status_code == 200
    assert WebhookEvent.objects.get().status == "processed" and Message.objects.count() == 1
