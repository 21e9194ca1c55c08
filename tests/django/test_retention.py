"""Retention (docs/privacy.md): the settings, what the purge redacts and deletes (and
what it keeps), the dry run, the command and the task, and bulk rows (10k; 100k in CI on
PostgreSQL) in bounded batches."""

from __future__ import annotations

import hashlib
import json
import os
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from wacloud_django import tasks
from wacloud_django.exceptions import SettingError
from wacloud_django.models import AuditEntry, Contact, MediaFile, Message, PendingStatus, WebhookEvent
from wacloud_django.services import retention

# Rows of the bulk tests: 10,000 (ten batches per kind) in `make test`; .ci/run's PostgreSQL
# pass sets 100,000 to see the batching hold, and the times it prints, at that size.
BULK_ROWS = int(os.environ.get("WACLOUD_TEST_BULK_ROWS", "10000"))

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


@pytest.fixture
def keep(settings):
    """Set ``WACLOUD["RETENTION"]``."""

    def configure(**days):
        settings.WACLOUD = {**settings.WACLOUD, "RETENTION": days}

    return configure


def _message(account, contact, age: timedelta, **fields) -> Message:
    defaults = {
        "direction": "inbound",
        "type": "text",
        "text": "my address is 1 Main St",
        "content": {"body": "my address is 1 Main St"},
        "raw": {"from": contact.wa_id},
        "status": "received",
    }
    return Message.objects.create(
        account=account, contact=contact, timestamp=timezone.now() - age, **{**defaults, **fields}
    )


def _event(account, age: timedelta, status=WebhookEvent.Status.PROCESSED, body: bytes | None = None):
    body = body or f"event {time.monotonic_ns()}".encode()
    return WebhookEvent.objects.create(
        account=account,
        body=body,
        body_sha256=hashlib.sha256(body).hexdigest(),
        status=status,
        received_at=timezone.now() - age,
    )


def _audit(age: timedelta, action="x.y") -> AuditEntry:
    return AuditEntry.objects.create(source="system", action=action, created_at=timezone.now() - age)


def test_retention_settings_default_to_the_older_settings_and_are_checked(settings, keep):
    assert retention.retention_days() == {
        "MESSAGE_CONTENT_DAYS": None,
        "MEDIA_DAYS": None,
        "WEBHOOK_EVENT_DAYS": 30,
        "AUDIT_DAYS": 365,
    }
    settings.WACLOUD = {**settings.WACLOUD, "WEBHOOK_EVENT_RETENTION_DAYS": 7, "AUDIT_RETENTION_DAYS": None}
    assert retention.retention_days()["WEBHOOK_EVENT_DAYS"] == 7
    assert retention.retention_days()["AUDIT_DAYS"] is None
    keep(MESSAGE_CONTENT_DAYS=90, AUDIT_DAYS=10)
    days = retention.retention_days()
    assert days["MESSAGE_CONTENT_DAYS"] == 90 and days["AUDIT_DAYS"] == 10 and days["MEDIA_DAYS"] is None
    keep(MESSAGE_CONTENT_DAYS=0)
    with pytest.raises(SettingError, match=r'WACLOUD\["RETENTION"\]\["MESSAGE_CONTENT_DAYS"\]'):
        retention.retention_days()
    keep(MESSAGES_DAYS=3)
    with pytest.raises(SettingError, match="unknown keys"):
        retention.retention_days()


def test_nothing_is_purged_when_everything_is_kept(account, keep):
    keep(WEBHOOK_EVENT_DAYS=None, AUDIT_DAYS=None)
    contact = Contact.objects.create(account=account, wa_id="972500000010")
    _message(account, contact, 1000 * DAY)
    _event(account, 1000 * DAY)
    _audit(1000 * DAY)
    assert retention.purge_expired_data() == dict.fromkeys(retention.KINDS, 0)
    assert Message.objects.get().text


def test_purge_redacts_old_content_and_deletes_old_media_events_and_audit(account, keep):
    keep(MESSAGE_CONTENT_DAYS=30, MEDIA_DAYS=30, WEBHOOK_EVENT_DAYS=30, AUDIT_DAYS=30)
    contact = Contact.objects.create(account=account, wa_id="972500000011")
    old = _message(account, contact, 40 * DAY, type="image", status="read")
    old.read_at = old.timestamp
    old.save()
    new = _message(account, contact, 2 * DAY)
    # The outbox keeps what it still has to send, however old.
    queued = _message(account, contact, 40 * DAY, direction="outbound", status="queued")
    retriable = _message(
        account, contact, 40 * DAY, direction="outbound", status="failed", failure_kind="retriable"
    )
    old_media = MediaFile.objects.create(account=account, message=old, media_id="m-old")
    old_media.file.save("old.png", ContentFile(b"old bytes"))
    MediaFile.objects.filter(pk=old_media.pk).update(created_at=timezone.now() - 40 * DAY)
    new_media = MediaFile.objects.create(account=account, message=new, media_id="m-new")
    new_media.file.save("new.png", ContentFile(b"new bytes"))
    outbox_media = MediaFile.objects.create(account=account, message=queued, media_id="m-out")
    MediaFile.objects.filter(pk=outbox_media.pk).update(created_at=timezone.now() - 40 * DAY)
    old_event, new_event = _event(account, 40 * DAY), _event(account, 2 * DAY)
    failed_event = _event(account, 40 * DAY, status=WebhookEvent.Status.FAILED)
    pending = PendingStatus.objects.create(wamid="wamid.nowhere", status="read")
    PendingStatus.objects.filter(pk=pending.pk).update(created_at=timezone.now() - 40 * DAY)
    old_audit, new_audit = _audit(40 * DAY), _audit(2 * DAY)
    old_file = old_media.file.name

    assert retention.purge_expired_data(dry_run=True) == {
        "message_content": 1,
        "media_files": 1,
        "webhook_events": 1,
        "pending_statuses": 1,
        "audit_entries": 1,
    }
    assert Message.objects.get(pk=old.pk).text  # a dry run changes nothing
    assert MediaFile.objects.filter(pk=old_media.pk).exists()

    assert retention.purge_expired_data() == {
        "message_content": 1,
        "media_files": 1,
        "webhook_events": 1,
        "pending_statuses": 1,
        "audit_entries": 1,
    }
    old.refresh_from_db()
    assert old.text == "" and old.content["redacted"] is True and old.raw["redacted"] is True
    assert "at" in old.content
    # The row, its status and timestamps stay for analytics.
    assert (old.type, old.status, old.direction, old.read_at) == ("image", "read", "inbound", old.timestamp)
    for kept in (new, queued, retriable):
        kept.refresh_from_db()
        assert kept.text and "redacted" not in kept.content
    assert not MediaFile.objects.filter(pk=old_media.pk).exists()
    assert not MediaFile._meta.get_field("file").storage.exists(old_file)
    assert MediaFile.objects.filter(pk__in=[new_media.pk, outbox_media.pk]).count() == 2
    assert set(WebhookEvent.objects.values_list("pk", flat=True)) == {new_event.pk, failed_event.pk}
    assert old_event.pk not in set(WebhookEvent.objects.values_list("pk", flat=True))
    assert not PendingStatus.objects.exists()
    assert list(AuditEntry.objects.values_list("pk", flat=True)) == [new_audit.pk]
    assert not AuditEntry.objects.filter(pk=old_audit.pk).exists()

    # A second run finds nothing left: redacted rows are not redacted again.
    assert retention.purge_expired_data() == dict.fromkeys(retention.KINDS, 0)


def test_whatsapp_purge_command_dry_run_json_progress_and_task(account, keep):
    keep(MESSAGE_CONTENT_DAYS=30, AUDIT_DAYS=30)
    contact = Contact.objects.create(account=account, wa_id="972500000012")
    for _ in range(3):
        _message(account, contact, 40 * DAY)
    _audit(40 * DAY)

    out = StringIO()
    call_command("whatsapp_purge", "--dry-run", "--format", "json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["dry_run"] is True
    assert report["counts"]["message_content"] == 3 and report["counts"]["audit_entries"] == 1
    assert report["retention_days"]["MESSAGE_CONTENT_DAYS"] == 30
    assert Message.objects.exclude(text="").count() == 3

    out = StringIO()
    call_command("whatsapp_purge", "--batch-size", "2", stdout=out)
    text = out.getvalue()
    assert "Purging [" in text and "4/4" in text  # the progress bar
    assert "3 message content" in text and "1 audit entries" in text
    assert Message.objects.filter(text="").count() == 3

    _message(account, contact, 40 * DAY)
    assert tasks.purge_expired_data() == {**dict.fromkeys(retention.KINDS, 0), "message_content": 1}


def test_purge_of_bulk_rows_runs_in_bounded_batches(account, keep, capsys):
    """BULK_ROWS expired messages, webhook events and audit entries each (plus rows to keep):
    redacted and deleted 1,000 per statement. Prints the time; asserts only the counts."""
    keep(MESSAGE_CONTENT_DAYS=30, WEBHOOK_EVENT_DAYS=30, AUDIT_DAYS=30)
    rows = BULK_ROWS
    contact = Contact.objects.create(account=account, wa_id="972500000013")
    old, recent = timezone.now() - 40 * DAY, timezone.now() - DAY
    started = time.perf_counter()
    Message.objects.bulk_create(
        (
            Message(
                account=account,
                contact=contact,
                direction="inbound",
                type="text",
                status="read",
                text=f"secret {i}",
                content={"body": f"secret {i}"},
                raw={"n": i},
                timestamp=old if i < rows else recent,
            )
            for i in range(rows + 100)
        ),
        batch_size=5000,
    )
    WebhookEvent.objects.bulk_create(
        (
            WebhookEvent(
                account=account,
                body=b"{}",
                body_sha256=hashlib.sha256(str(i).encode()).hexdigest(),
                status=WebhookEvent.Status.PROCESSED,
                received_at=old if i < rows else recent,
            )
            for i in range(rows + 100)
        ),
        batch_size=5000,
    )
    AuditEntry.objects.bulk_create(
        (
            AuditEntry(source="system", action="bulk.row", created_at=old if i < rows else recent)
            for i in range(rows + 100)
        ),
        batch_size=5000,
    )
    created = time.perf_counter() - started

    batches = []
    started = time.perf_counter()
    counts = retention.purge_expired_data(progress=lambda done, total: batches.append((done, total)))
    purged = time.perf_counter() - started

    assert counts == {
        "message_content": rows,
        "media_files": 0,
        "webhook_events": rows,
        "pending_statuses": 0,
        "audit_entries": rows,
    }
    assert Message.objects.filter(text="").count() == rows
    assert Message.objects.exclude(text="").count() == 100
    assert Message.objects.filter(content__redacted=True).count() == rows
    assert WebhookEvent.objects.count() == 100
    assert AuditEntry.objects.filter(action="bulk.row").count() == 100
    # rows / 1,000 batches per kind: each its own statement of at most 1,000 rows.
    assert len(batches) == 3 * -(-rows // retention.BATCH_SIZE) and batches[-1] == (3 * rows, 3 * rows)
    with capsys.disabled():
        print(
            f"\n[retention] {connection.vendor}: 3 x {rows:,} rows created in {created:.1f}s, "
            f"purged in {purged:.1f}s ({counts})"
        )


def test_an_organization_overrides_the_default_retention_for_its_own_data(account, keep):
    """Organization A keeps message content 7 days, B for ever (None); the default (30 days)
    still applies to every other organization, and a bad override is refused by the model."""
    from django.core.exceptions import ValidationError

    from wacloud_django.models import BusinessAccount, Organization

    keep(MESSAGE_CONTENT_DAYS=30, AUDIT_DAYS=30)
    strict = Organization.objects.create(name="Strict", slug="strict", retention={"MESSAGE_CONTENT_DAYS": 7})
    forever = Organization.objects.create(
        name="Forever", slug="forever", retention={"MESSAGE_CONTENT_DAYS": None, "AUDIT_DAYS": 3}
    )

    def account_of(organization, number):
        return BusinessAccount.objects.create(
            name=organization.name, organization=organization, phone_number_id=number, access_token="t"
        )

    strict_account, forever_account = account_of(strict, "111000111"), account_of(forever, "222000222")
    messages = {}
    for name, owner in (("default", account), ("strict", strict_account), ("forever", forever_account)):
        contact = Contact.objects.create(account=owner, wa_id="972500000020")
        messages[name] = {age: _message(owner, contact, age * DAY).pk for age in (10, 40)}
    audits = {
        "default": AuditEntry.objects.create(
            source="system", action="a", created_at=timezone.now() - 5 * DAY
        ),
        "forever": AuditEntry.objects.create(
            source="system", action="a", organization=forever, created_at=timezone.now() - 5 * DAY
        ),
    }

    counts = retention.purge_expired_data()

    redacted = set(Message.objects.filter(content__redacted=True).values_list("pk", flat=True))
    assert redacted == {messages["default"][40], messages["strict"][10], messages["strict"][40]}
    assert counts["message_content"] == 3
    # Audit: 30 days by default (kept), 3 days for Forever (deleted).
    assert AuditEntry.objects.filter(pk=audits["default"].pk).exists()
    assert not AuditEntry.objects.filter(pk=audits["forever"].pk).exists()

    strict.retention = {"MESSAGE_CONTENT_DAYS": 0}
    with pytest.raises(ValidationError, match="positive number of days"):
        strict.full_clean()
    strict.retention = {"MESSAGES": 3}
    with pytest.raises(ValidationError, match="unknown keys"):
        strict.full_clean()


def test_a_bad_organization_override_keeps_the_default_and_the_purge_goes_on(account, keep, caplog):
    from wacloud_django.models import Organization

    keep(MESSAGE_CONTENT_DAYS=30)
    Organization.objects.filter(pk=account.organization_id).update(retention={"MESSAGE_CONTENT_DAYS": "x"})
    contact = Contact.objects.create(account=account, wa_id="972500000021")
    old = _message(account, contact, 40 * DAY)
    assert retention.purge_expired_data()["message_content"] == 1
    assert Message.objects.get(pk=old.pk).text == ""
    assert "keeps the default retention" in caplog.text


def test_erasing_a_contact_with_bulk_messages_runs_in_bounded_batches(account, capsys):
    """One contact with BULK_ROWS messages erased 1,000 rows per statement; another contact's
    messages untouched. Prints the time; asserts the counts and the batching."""
    from unittest import mock

    from wacloud_django.services import privacy

    rows = BULK_ROWS
    person = Contact.objects.create(account=account, wa_id="972500000030", name="Dana")
    neighbour = Contact.objects.create(account=account, wa_id="972500000031")
    now = timezone.now()
    Message.objects.bulk_create(
        (
            Message(
                account=account,
                contact=person if i < rows else neighbour,
                direction="inbound",
                type="text",
                status="read",
                text=f"secret {i}",
                content={"body": f"secret {i}"},
                raw={"n": i},
                timestamp=now - timedelta(seconds=i),
            )
            for i in range(rows + 50)
        ),
        batch_size=5000,
    )
    statements = []
    real_update = type(Message.objects.all()).update

    def counted_update(queryset, **kwargs):
        changed = real_update(queryset, **kwargs)
        if queryset.model is Message:
            statements.append(changed)
        return changed

    started = time.perf_counter()
    with mock.patch.object(type(Message.objects.all()), "update", counted_update):
        counts = privacy.erase_contact(person)
    erased = time.perf_counter() - started

    assert counts["messages_redacted"] == rows
    assert Message.objects.filter(contact=person).exclude(text="").count() == 0
    assert Message.objects.filter(contact=neighbour, text__startswith="secret").count() == 50
    assert max(statements) <= retention.BATCH_SIZE and sum(statements) >= rows
    with capsys.disabled():
        print(f"\n[erasure] {connection.vendor}: {rows:,} messages of one contact erased in {erased:.1f}s")
