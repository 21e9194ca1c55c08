"""Encryption at rest (docs/privacy.md): message text/content and media files stored
encrypted with WACLOUD["ENCRYPT_MESSAGES"]/["ENCRYPT_MEDIA"] and read in clear through the
ORM, the API and the export; key rotation (resumable) and the system check of stored keys."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import zipfile
from io import StringIO

import pytest
from api_support import PNG, Api, member
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from wacloud_test_helpers import USER, envelope, text_message

from wacloud_django.checks import check_encrypted_data
from wacloud_django.crypto import _key_id, token_key_id
from wacloud_django.exceptions import DecryptionError
from wacloud_django.models import (
    AuditEntry,
    BusinessAccount,
    Contact,
    KeyRotationProgress,
    MediaFile,
    Message,
)
from wacloud_django.services import key_rotation, privacy
from wacloud_django.services.key_rotation import rotate_keys
from wacloud_django.services.outbound import deliver_message, retry_failed_messages, send_message
from wacloud_django.services.retention import redact_messages
from wacloud_django.stream_crypto import CHUNK_BYTES, MAGIC, encrypted_size, header_key_id

pytestmark = pytest.mark.django_db

OLD_KEY, NEW_KEY, LOST_KEY = "0f" * 32, "1e" * 32, "2d" * 32
OLD_ID, NEW_ID, LOST_ID = (_key_id(bytes.fromhex(key)) for key in (OLD_KEY, NEW_KEY, LOST_KEY))


def configure(settings, **values) -> None:
    settings.WACLOUD = {**settings.WACLOUD, **values}


def stored(message: Message) -> dict[str, str]:
    """The message's columns exactly as the database holds them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT text, content, raw FROM wacloud_message WHERE id = %s", [message.pk])
        text, content, raw = cursor.fetchone()
    return {"text": text, "content": content, "raw": raw}


def stored_bytes(media: MediaFile) -> bytes:
    with media.file.storage.open(media.file.name, "rb") as handle:
        return handle.read()


def key_of(value: str) -> str | None:
    return token_key_id(json.loads(value) if value.startswith('"') else value)


@pytest.fixture
def inbound(settings, account, post_webhook):
    """A customer's text received through a signed webhook, with encryption on."""
    configure(settings, ENCRYPT_MESSAGES=True)
    assert post_webhook(text_message("wamid.secret", "my card is 4111")).status_code == 200
    return Message.objects.get(wamid="wamid.secret")


def test_message_text_content_and_raw_are_stored_encrypted(inbound):
    columns = stored(inbound)
    for name, value in columns.items():
        assert "4111" not in value, name
        assert key_of(value) == OLD_ID, name
    inbound.refresh_from_db()
    assert inbound.text == "my card is 4111"
    assert inbound.content == {"text": "my card is 4111"}
    assert inbound.raw["text"]["body"] == "my card is 4111"
    # values() decrypts too, so services reading columns keep working.
    assert Message.objects.filter(pk=inbound.pk).values_list("text", flat=True).get() == "my card is 4111"


def test_a_value_copied_into_another_column_does_not_decrypt(inbound):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE wacloud_message SET text = %s WHERE id = %s",
            [stored(inbound)["content"][1:-1], inbound.pk],
        )
    with pytest.raises(DecryptionError, match=r"wacloud\.Message\.text"):
        Message.objects.get(pk=inbound.pk)


def test_the_api_shows_the_plaintext(inbound, client):
    user = member(inbound.account.organization, "viewer")
    answer = Api(client, user).get(f"conversations/{inbound.conversation_id}/messages")
    assert answer.status_code == 200, answer.content
    assert [row["text"] for row in answer.json()["results"]] == ["my card is 4111"]


def test_rows_written_in_plaintext_stay_readable_both_ways(settings, account):
    before = Message.objects.create(
        account=account,
        direction="inbound",
        type="text",
        text="old",
        content={"body": "old"},
        status="received",
    )
    assert stored(before)["text"] == "old"
    configure(settings, ENCRYPT_MESSAGES=True)
    after = Message.objects.create(
        account=account,
        direction="inbound",
        type="text",
        text="new",
        content={"body": "new"},
        status="received",
    )
    assert key_of(stored(after)["text"]) == OLD_ID
    configure(settings, ENCRYPT_MESSAGES=False)
    assert sorted(Message.objects.values_list("text", flat=True)) == ["new", "old"]
    assert Message.objects.get(pk=after.pk).content == {"body": "new"}
    # A plaintext that looks like a token is stored encrypted anyway: it can never be mistaken.
    lookalike = stored(after)["text"]
    tricky = Message.objects.create(
        account=account, direction="inbound", type="text", text=lookalike, status="received"
    )
    assert stored(tricky)["text"] != lookalike
    assert Message.objects.get(pk=tricky.pk).text == lookalike


def test_update_and_empty_values(settings, account):
    configure(settings, ENCRYPT_MESSAGES=True)
    message = Message.objects.create(account=account, direction="outbound", type="text", status="queued")
    assert stored(message) == {"text": "", "content": "{}", "raw": "{}"}
    Message.objects.filter(pk=message.pk).update(text="updated", content={"body": "updated"})
    assert "updated" not in stored(message)["text"] + stored(message)["content"]
    assert Message.objects.get(pk=message.pk).content == {"body": "updated"}


def test_redacted_content_stays_findable(inbound):
    assert redact_messages(Message.objects.filter(pk=inbound.pk)) == 1
    assert Message.objects.filter(content__has_key="redacted").count() == 1
    assert Message.objects.get(pk=inbound.pk).text == ""
    # A second retention run finds nothing left to redact.
    assert redact_messages(Message.objects.exclude(content__has_key="redacted")) == 0


# -- media ----------------------------------------------------------------------------------


def media_with(account, message, data: bytes, name: str = "scan.pdf") -> MediaFile:
    media = MediaFile.objects.create(
        account=account, message=message, media_id=f"media-{name}", mime_type="application/pdf",
        filename=name, caption="the caption", sha256=hashlib.sha256(data).hexdigest(), size=len(data),
    )  # fmt: skip
    media.file.save(name, ContentFile(data))
    return media


@pytest.mark.parametrize("size", [0, 1000, CHUNK_BYTES, 3 * CHUNK_BYTES + 17])
def test_media_round_trip_keeps_the_plaintext_hash(settings, inbound, size):
    configure(settings, ENCRYPT_MEDIA=True)
    data = os.urandom(size)
    media = media_with(inbound.account, inbound, data)
    raw = stored_bytes(media)
    assert raw.startswith(MAGIC) and header_key_id(raw) == OLD_ID
    assert len(raw) == encrypted_size(size)
    assert size == 0 or data[:64] not in raw
    with MediaFile.objects.get(pk=media.pk).file.open("rb") as handle:
        read = handle.read()
    assert read == data and hashlib.sha256(read).hexdigest() == media.sha256
    assert MediaFile.objects.get(pk=media.pk).caption == "the caption"  # decrypted...
    with connection.cursor() as cursor:
        cursor.execute("SELECT caption FROM wacloud_mediafile WHERE id = %s", [media.pk])
        assert key_of(cursor.fetchone()[0]) == OLD_ID  # ...but stored encrypted


def test_media_served_and_exported_in_clear(settings, inbound, client):
    configure(settings, ENCRYPT_MEDIA=True)
    data = b"%PDF-1.4 private scan " * 5000
    media = media_with(inbound.account, inbound, data)
    assert data not in stored_bytes(media)
    user = member(inbound.account.organization, "viewer")
    response = Api(client, user).get(f"media/{media.pk}", {"download": "1"})
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    archive = zipfile.ZipFile(io.BytesIO(privacy.export_contact(inbound.contact)))
    document = json.loads(archive.read("contact.json"))
    assert archive.read(document["media"][0]["archive_path"]) == data
    assert document["messages"][0]["text"] == "my card is 4111"


def test_altered_or_truncated_media_is_refused(settings, inbound):
    configure(settings, ENCRYPT_MEDIA=True)
    media = media_with(inbound.account, inbound, os.urandom(2 * CHUNK_BYTES + 5))
    raw = stored_bytes(media)
    storage = media.file.storage
    for bad in (
        raw[:-1],
        raw[: len(raw) - (CHUNK_BYTES + 16) - 5 - 16],
        raw[:40] + bytes([raw[40] ^ 1]) + raw[41:],
    ):
        storage.delete(media.file.name)
        storage.save(media.file.name, ContentFile(bad))
        with pytest.raises(DecryptionError, match="altered or truncated"):
            MediaFile.objects.get(pk=media.pk).file.open("rb").read()


def test_media_stored_before_encryption_stays_readable(settings, inbound):
    media = media_with(inbound.account, inbound, b"plain old file")
    assert stored_bytes(media) == b"plain old file"
    configure(settings, ENCRYPT_MEDIA=True)
    assert MediaFile.objects.get(pk=media.pk).file.read() == b"plain old file"


# -- key rotation ---------------------------------------------------------------------------


@pytest.fixture
def old_data(settings, inbound):
    """Secrets, three messages, a caption and a media file, all under OLD_KEY."""
    configure(settings, ENCRYPT_MEDIA=True)
    for n in range(2):
        Message.objects.create(
            account=inbound.account,
            direction="outbound",
            type="text",
            text=f"reply {n}",
            content={"body": f"reply {n}"},
            status="sent",
        )
    media = media_with(inbound.account, inbound, b"scan " * 30000)
    configure(settings, ENCRYPTION_KEY=NEW_KEY, ENCRYPTION_KEY_FALLBACKS=[OLD_KEY])
    return inbound.account, media


def all_key_ids(account: BusinessAccount, media: MediaFile) -> set[str | None]:
    ids = {
        key_of(value)
        for message in Message.objects.all()
        for value in stored(message).values()
        if value not in ("{}", "")
    }
    ids |= {
        token_key_id(getattr(account, f"{name}_encrypted"))
        for name in ("access_token", "app_secret", "verify_token")
    }
    return ids | {header_key_id(stored_bytes(MediaFile.objects.get(pk=media.pk)))}


def test_rotation_moves_everything_to_the_new_key(settings, old_data):
    account, media = old_data
    result = rotate_keys(batch_size=2)
    assert result["error_count"] == 0
    assert result["kinds"]["message_content"]["changed"] == 3
    assert result["kinds"]["account_secrets"]["changed"] == 1
    assert result["kinds"]["media_files"]["changed"] == result["kinds"]["media_captions"]["changed"] == 1
    account.refresh_from_db()
    assert all_key_ids(account, media) == {NEW_ID}
    configure(settings, ENCRYPTION_KEY_FALLBACKS=[])  # the old key can go now
    account.refresh_from_db()
    assert (account.access_token, account.verify_token) == ("EAAG-test-token", "account-verify-token")
    assert sorted(Message.objects.values_list("text", flat=True)) == ["my card is 4111", "reply 0", "reply 1"]
    assert MediaFile.objects.get(pk=media.pk).file.read() == b"scan " * 30000
    assert AuditEntry.objects.get(action="encryption.rotate_key").changes["message_content"] == 3
    # A second run finds everything on the key and changes nothing.
    again = rotate_keys()
    assert {kind: counts["changed"] for kind, counts in again["kinds"].items()} == dict.fromkeys(
        again["kinds"], 0
    )


def test_interrupted_rotation_resumes_where_it_stopped(old_data):
    account, media = old_data
    before = {m.pk: m.text for m in Message.objects.all()}

    def die_after_first_batch(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rotate_keys(batch_size=2, kinds=["message_content"], progress=die_after_first_batch)
    first_two = sorted(before)[:2]
    progress = KeyRotationProgress.objects.get(kind="message_content", key_id=NEW_ID)
    assert progress.last_pk == first_two[-1] and progress.finished_at is None
    assert {key_of(stored(Message.objects.get(pk=pk))["text"]) for pk in before} == {NEW_ID, OLD_ID}

    result = rotate_keys(batch_size=2)
    assert result["kinds"]["message_content"]["resumed_from_pk"] == first_two[-1]
    assert result["kinds"]["message_content"]["changed"] == 1  # only the row after the stop
    account.refresh_from_db()
    assert all_key_ids(account, media) == {NEW_ID}
    # Decrypting once gives the text: nothing was encrypted twice.
    assert {m.pk: m.text for m in Message.objects.all()} == before
    assert KeyRotationProgress.objects.get(kind="message_content", key_id=NEW_ID).finished_at is not None


def test_dry_run_counts_and_changes_nothing(old_data):
    account, media = old_data
    result = rotate_keys(dry_run=True)
    assert result["kinds"]["message_content"]["changed"] == 3 and result["dry_run"]
    assert all_key_ids(account, media) == {OLD_ID}
    assert not KeyRotationProgress.objects.exists()


def test_rotation_encrypts_rows_stored_in_plaintext(settings, account):
    plain = Message.objects.create(
        account=account,
        direction="inbound",
        type="text",
        text="hi",
        content={"body": "hi"},
        status="received",
    )
    configure(settings, ENCRYPT_MESSAGES=True)
    assert rotate_keys()["kinds"]["message_content"]["changed"] == 1
    assert {key_of(value) for value in stored(plain).values() if value != "{}"} == {OLD_ID}
    assert Message.objects.get(pk=plain.pk).content == {"body": "hi"}


def test_rotation_with_encryption_off_keeps_rows_encrypted(settings, old_data):
    configure(settings, ENCRYPT_MESSAGES=False, ENCRYPT_MEDIA=False)
    rotate_keys()
    assert {key_of(stored(message)["text"]) for message in Message.objects.all()} == {NEW_ID}


def test_an_unreadable_row_does_not_block_the_others(settings, old_data):
    configure(settings, ENCRYPTION_KEY=LOST_KEY, ENCRYPTION_KEY_FALLBACKS=[OLD_KEY])
    lost = Message.objects.create(
        account=old_data[0], direction="inbound", type="text", text="lost", status="received"
    )
    configure(settings, ENCRYPTION_KEY=NEW_KEY, ENCRYPTION_KEY_FALLBACKS=[OLD_KEY])
    out = StringIO()
    with pytest.raises(CommandError, match="1 value"):
        call_command("whatsapp_rotate_key", "--format", "json", stdout=out)
    result = json.loads(out.getvalue())
    assert result["kinds"]["message_content"]["changed"] == 3
    assert f"pk {lost.pk}" in result["errors"][0] and LOST_ID in result["errors"][0]


def test_command_text_output_and_bad_batch_size(old_data):
    out = StringIO()
    call_command("whatsapp_rotate_key", "--dry-run", "--batch-size", "1", stdout=out)
    assert (
        f"Key {NEW_ID}: 1 account secrets, 0 support rule secrets, 3 message content, 1 media captions, "
        "1 media files would be" in out.getvalue()
    )
    with pytest.raises(CommandError, match="--batch-size"):
        call_command("whatsapp_rotate_key", "--batch-size", "0")


# -- manage.py check ------------------------------------------------------------------------


def test_check_warns_about_fallback_keys_until_rotated(old_data):
    (warning,) = check_encrypted_data()
    assert warning.id == "wacloud.W040"
    # text, content and raw of the webhook's message, text and content of the two replies
    assert f"message_content: 7 sampled value(s) are still on fallback key {OLD_ID}" in warning.msg
    assert "media_files" in warning.msg and "account_secrets" in warning.msg
    assert "whatsapp_rotate_key" in warning.hint
    rotate_keys()
    assert check_encrypted_data() == []


def test_check_names_the_kind_and_the_missing_key(settings, old_data):
    configure(settings, ENCRYPTION_KEY=NEW_KEY, ENCRYPTION_KEY_FALLBACKS=[])
    (error,) = check_encrypted_data()
    assert error.id == "wacloud.E040"
    assert f"message_content: 7 sampled value(s) use key {OLD_ID}" in error.msg
    assert f"media_files: 1 sampled value(s) use key {OLD_ID}" in error.msg
    assert "account_secrets" not in error.msg  # wacloud.E015 reports those


def test_check_is_quiet_without_encrypted_data(account):
    assert check_encrypted_data() == []


# -- what search can no longer do -----------------------------------------------------------


def test_admin_search_skips_encrypted_text(settings, admin_client, inbound):
    url = reverse("admin:wacloud_message_changelist")
    found = admin_client.get(url, {"q": "4111"}).context["cl"].result_count
    assert found == 0  # the database only sees ciphertext: the text is not searched at all
    token_piece = stored(inbound)["text"][20:26]
    assert admin_client.get(url, {"q": token_piece}).context["cl"].result_count == 0
    assert admin_client.get(url, {"q": USER}).context["cl"].result_count == 1  # numbers still work
    configure(settings, ENCRYPT_MESSAGES=False)
    Message.objects.create(
        account=inbound.account, direction="inbound", type="text", text="card 4111 again", status="received"
    )
    assert admin_client.get(url, {"q": "4111"}).context["cl"].result_count == 1  # plaintext rows only


# -- through the services, against the sandbox ----------------------------------------------


def test_inbound_media_is_downloaded_then_stored_encrypted(settings, sandbox, account, post_webhook):
    configure(settings, MEDIA_DOWNLOAD=True, ENCRYPT_MEDIA=True, ENCRYPT_MESSAGES=True)
    data = os.urandom(3 * CHUNK_BYTES)
    message = sandbox.inject_inbound(
        **{"from": USER}, name="Ana", type="image", mime_type="image/jpeg", caption="my id card",
        data=base64.b64encode(data).decode(),
    )  # fmt: skip
    assert post_webhook(envelope({"messages": [message], "contacts": [{"wa_id": USER}]})).status_code == 200
    media = MediaFile.objects.get()
    assert media.download_status == "downloaded" and media.caption == "my id card"
    assert media.sha256 == hashlib.sha256(data).hexdigest()  # the plaintext's hash
    raw = stored_bytes(media)
    assert header_key_id(raw) == OLD_ID and data[:64] not in raw
    assert media.file.read() == data
    assert "my id card" not in json.dumps(stored(media.message))


def test_outbound_media_is_stored_encrypted_and_uploaded_in_clear(settings, sandbox, account, tmp_path):
    configure(settings, ENCRYPT_MEDIA=True, ENCRYPT_MESSAGES=True)
    sandbox.inject_inbound(**{"from": USER}, name="Ana", type="text", text="hello")
    Contact.objects.update_or_create(
        account=account, wa_id=USER, defaults={"last_inbound_at": timezone.now()}
    )
    path = tmp_path / "dot.png"
    path.write_bytes(PNG)
    message = send_message(account, USER, "image", {"caption": "a dot"}, media=path, enqueue=False)
    assert message.status == Message.Status.SENT
    media = MediaFile.objects.get(message=message)
    assert stored_bytes(media).startswith(MAGIC) and PNG not in stored_bytes(media)
    assert sandbox.media_bytes(media.media_id) == PNG  # what Meta received is the file itself
    assert "a dot" not in json.dumps(stored(message))
    assert Message.objects.get(pk=message.pk).content["caption"] == "a dot"


def test_bulk_writes_are_encrypted_too(settings, account):
    configure(settings, ENCRYPT_MESSAGES=True)
    rows = Message.objects.bulk_create(
        [
            Message(account=account, direction="outbound", type="text", text=f"bulk {n}", status="sent")
            for n in range(3)
        ]
    )
    for row in rows:
        row.text = row.text.upper()
    Message.objects.bulk_update(rows, ["text"])
    assert {key_of(stored(row)["text"]) for row in rows} == {OLD_ID}
    assert sorted(Message.objects.values_list("text", flat=True)) == ["BULK 0", "BULK 1", "BULK 2"]


def test_a_queued_message_under_a_missing_key_waits_unsent_until_the_key_is_back(settings, sandbox, account):
    configure(settings, ENCRYPT_MESSAGES=True)
    sandbox.inject_inbound(**{"from": USER}, name="Ana", type="text", text="hello")
    Contact.objects.update_or_create(
        account=account, wa_id=USER, defaults={"last_inbound_at": timezone.now()}
    )
    queued = send_message(account, USER, "text", "your code is 1234")  # enqueued: runs on commit only
    configure(settings, ENCRYPTION_KEY=NEW_KEY)  # the old key forgotten
    with pytest.raises(DecryptionError, match=OLD_ID):
        deliver_message(queued.pk)
    assert sandbox.sent_messages(to=USER) == []
    configure(settings, ENCRYPTION_KEY_FALLBACKS=[OLD_KEY])
    assert Message.objects.get(pk=queued.pk).status == "queued"  # not claimed, not failed: not lost
    assert retry_failed_messages([queued.pk])["rescheduled"] == 1  # the outbox sweep sends it
    assert Message.objects.get(pk=queued.pk).status == "sent"
    assert sandbox.sent_messages(to=USER)[0]["payload"]["text"]["body"] == "your code is 1234"


def test_a_row_redacted_during_the_rotation_stays_redacted(old_data, monkeypatch):
    target = Message.objects.order_by("pk").first()
    original = key_rotation._Run.columns_to_change

    def scan_then_redact(run, kind, stored_values):
        changed = original(run, kind, stored_values)
        if (
            kind.name == "message_content"
            and not Message.objects.filter(content__has_key="redacted").exists()
        ):
            redact_messages(Message.objects.filter(pk=target.pk))  # lands between scan and rewrite
        return changed

    monkeypatch.setattr(key_rotation._Run, "columns_to_change", scan_then_redact)
    rotate_keys(kinds=["message_content"])
    redacted = Message.objects.get(pk=target.pk)
    assert redacted.text == "" and redacted.content["redacted"] is True
    assert Message.objects.filter(content__has_key="redacted").count() == 1


def test_support_rule_webhook_secrets_are_stored_encrypted_and_rotated(account, settings):
    """The escalation webhook's signing secret is a secret like the accounts' ones: never in
    clear in the database, moved to the new key by whatsapp_rotate_key, checked by the check."""
    from django.db import connection

    from wacloud_django.models import SupportRule
    from wacloud_django.services import key_rotation

    rule = SupportRule.objects.create(organization=account.organization, trigger_keywords=["help"])
    secret = rule.webhook_secret
    assert len(secret) == 64
    with connection.cursor() as cursor:
        cursor.execute("SELECT webhook_secret_encrypted FROM wacloud_supportrule WHERE id = %s", [rule.pk])
        stored = cursor.fetchone()[0]
    assert secret not in stored and stored.startswith("wac1:")
    assert SupportRule.objects.get(pk=rule.pk).webhook_secret == secret

    old_key = settings.WACLOUD["ENCRYPTION_KEY"]
    settings.WACLOUD = {
        **settings.WACLOUD,
        "ENCRYPTION_KEY": "ab" * 32,
        "ENCRYPTION_KEY_FALLBACKS": [old_key],
    }
    errors, warnings = key_rotation.stored_key_problems()
    assert not any("support_rule_secrets" in error for error in errors)  # the old key still decrypts
    assert any("support_rule_secrets" in warning for warning in warnings)
    result = key_rotation.rotate_keys()
    assert result["kinds"]["support_rule_secrets"]["changed"] == 1
    settings.WACLOUD = {**settings.WACLOUD, "ENCRYPTION_KEY_FALLBACKS": []}
    assert SupportRule.objects.get(pk=rule.pk).webhook_secret == secret
    assert not any("support_rule_secrets" in problem for problem in key_rotation.stored_key_problems()[0])
