"""send_message against the real sandbox: checks before storing, the outbox row,
the send, media uploads, pending statuses and template checks."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.utils import timezone
from wacloud_test_helpers import WABA_ID

from wacloud.errors import InvalidParameter, InvalidPhoneNumber, MediaRejected, TemplateError
from wacloud_django.models import Contact, MediaFile, Message, PendingStatus, RateLimitUsage, Template
from wacloud_django.services import clients, outbound, templates
from wacloud_django.services.outbound import ContactOptedOut, ServiceWindowClosed, send_message

pytestmark = pytest.mark.django_db

CUSTOMER = "15550001111"
# A 1x1 PNG: real image bytes the C++ sniffer recognizes.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def customer_writes(sandbox, account, wa_id=CUSTOMER):
    """The customer writes in: the sandbox and our database both see the window open."""
    sandbox.inject_inbound(**{"from": wa_id}, name="Ana", type="text", text="hello")
    Contact.objects.update_or_create(
        account=account, wa_id=wa_id, defaults={"last_inbound_at": timezone.now()}
    )


def test_text_is_stored_then_sent_with_its_wamid(sandbox, account):
    customer_writes(sandbox, account)
    message = send_message(account, "+1 555-000-1111", "text", "Hi Ana", enqueue=False)
    assert message.status == Message.Status.SENT
    assert message.direction == Message.Direction.OUTBOUND and message.send_attempts == 1
    [sent] = sandbox.sent_messages(to=CUSTOMER)
    assert sent["id"] == message.wamid
    assert sent["payload"]["text"]["body"] == "Hi Ana"
    assert message.contact.wa_id == CUSTOMER and message.conversation.contact_id == message.contact_id
    assert RateLimitUsage.objects.get(account=account).count == 1


def test_enqueue_writes_the_outbox_first_and_sends_after_commit(
    sandbox, account, django_capture_on_commit_callbacks
):
    customer_writes(sandbox, account)
    with django_capture_on_commit_callbacks(execute=True):
        message = send_message(account, CUSTOMER, "text", "queued first")
        # Inside the transaction: stored as queued, nothing has left yet.
        assert Message.objects.get(pk=message.pk).status == Message.Status.QUEUED
        assert sandbox.sent_messages() == []
    message.refresh_from_db()
    assert message.status == Message.Status.SENT and message.wamid


def test_free_form_outside_the_window_is_refused_before_anything_is_stored(sandbox, account):
    with pytest.raises(ServiceWindowClosed, match="24-hour customer service window") as raised:
        send_message(account, CUSTOMER, "text", "hello?")
    assert raised.value.last_inbound_at is None
    assert Message.objects.count() == 0
    assert sandbox.sent_messages() == []


def test_window_expired_after_24_hours(sandbox, account):
    Contact.objects.create(
        account=account, wa_id=CUSTOMER, last_inbound_at=timezone.now() - timedelta(hours=25)
    )
    with pytest.raises(ServiceWindowClosed, match="last wrote at"):
        send_message(account, CUSTOMER, "image", media="https://example.com/a.png")


def test_template_goes_outside_the_window(sandbox, account):
    message = send_message(account, CUSTOMER, "template", template_name="hello_world",
                           template_language="en_US", enqueue=False)  # fmt: skip
    assert message.status == Message.Status.SENT
    assert message.text == "[template hello_world (en_US)]"
    [sent] = sandbox.sent_messages(to=CUSTOMER)
    assert sent["payload"]["template"]["name"] == "hello_world"


def test_opted_out_contact_gets_nothing_not_even_templates(sandbox, account):
    Contact.objects.create(account=account, wa_id=CUSTOMER, opted_out=True)
    with pytest.raises(ContactOptedOut, match="opted out"):
        send_message(account, CUSTOMER, "template", template_name="hello_world", template_language="en_US")
    assert Message.objects.count() == 0


@pytest.mark.parametrize(
    ("to", "message_type", "content", "error", "match"),
    [
        ("not a number", "text", "hi", InvalidPhoneNumber, "number"),
        (CUSTOMER, "text", "x" * 4097, InvalidParameter, "4096"),
        (CUSTOMER, "telepathy", "hi", InvalidParameter, "message_type"),
        (CUSTOMER, "image", None, InvalidParameter, "needs a media id, a link or a file"),
        (CUSTOMER, "location", {"latitude": 200, "longitude": 0}, InvalidParameter, "latitude"),
    ],
)
def test_bad_input_is_a_typed_error_and_stores_nothing(
    sandbox, account, to, message_type, content, error, match
):
    customer_writes(sandbox, account)
    with pytest.raises(error, match=match):
        send_message(account, to, message_type, content)
    assert Message.objects.count() == 0


def test_media_file_is_kept_uploaded_once_and_sent_by_id(sandbox, account, tmp_path):
    customer_writes(sandbox, account)
    path = tmp_path / "dot.png"
    path.write_bytes(PNG)
    message = send_message(account, CUSTOMER, "image", {"caption": "a dot"}, media=path, enqueue=False)
    assert message.status == Message.Status.SENT
    media_file = MediaFile.objects.get(message=message)
    assert media_file.media_id == message.content["media_id"]
    with media_file.file.open("rb") as stored:
        assert media_file.mime_type == "image/png" and stored.read() == PNG
    assert sandbox.media_bytes(media_file.media_id) == PNG
    [sent] = sandbox.sent_messages(to=CUSTOMER)
    assert sent["payload"]["image"] == {"id": media_file.media_id, "caption": "a dot"}


def test_media_by_link_and_by_id(sandbox, account):
    customer_writes(sandbox, account)
    by_link = send_message(account, CUSTOMER, "document", {"filename": "a.pdf"},
                           media="https://example.com/a.pdf", enqueue=False)  # fmt: skip
    assert by_link.status == Message.Status.SENT and by_link.content["link"] == "https://example.com/a.pdf"
    media_id = clients.client_for(account).upload_media(PNG, "image/png")
    by_id = send_message(account, CUSTOMER, "image", media=media_id, enqueue=False)
    assert by_id.status == Message.Status.SENT and by_id.content["media_id"] == media_id
    assert not MediaFile.objects.exists()  # nothing to keep: Meta already holds both


def test_media_of_the_wrong_kind_is_rejected_before_storing(sandbox, account):
    customer_writes(sandbox, account)
    with pytest.raises(InvalidParameter, match="image/png is sent as image, not as video"):
        send_message(account, CUSTOMER, "video", media=PNG)
    with pytest.raises(MediaRejected):
        send_message(account, CUSTOMER, "image", media=b"")
    assert Message.objects.count() == 0


def test_status_that_overtook_the_send_response_is_applied(sandbox, account, monkeypatch):
    customer_writes(sandbox, account)
    real_client_for = outbound.client_for

    class Overtaken:
        """The delivered webhook arrives while the send's response is still on its way."""

        def __init__(self, client):
            self.client = client

        def send(self, *args, **kwargs):
            result = self.client.send(*args, **kwargs)
            PendingStatus.objects.create(wamid=result.message_id, status="delivered", account=account)
            return result

    monkeypatch.setattr(outbound, "client_for", lambda acc: Overtaken(real_client_for(acc)))
    message = send_message(account, CUSTOMER, "text", "fast", enqueue=False)
    assert message.status == Message.Status.DELIVERED
    assert message.sent_at is not None and message.delivered_at is not None
    assert not PendingStatus.objects.exists()


def test_reply_quotes_the_original(sandbox, account):
    customer_writes(sandbox, account)
    first = send_message(account, CUSTOMER, "text", "first", enqueue=False)
    reply = send_message(account, CUSTOMER, "text", "second", reply_to=first, enqueue=False)
    assert reply.reply_to == first
    assert sandbox.message(reply.wamid)["payload"]["context"] == {"message_id": first.wamid}


def test_sync_templates_creates_updates_and_marks_deleted(sandbox, account):
    Template.objects.create(waba_id=WABA_ID, name="gone", language="en", status="APPROVED")
    assert templates.sync_templates(account) == {"created": 1, "updated": 0, "unchanged": 0, "deleted": 1}
    hello = Template.objects.get(name="hello_world")
    assert hello.status == "APPROVED" and hello.template_id and hello.account == account
    assert Template.objects.get(name="gone").status == Template.Status.DELETED
    sandbox.set_template_status("hello_world", "PAUSED")
    assert templates.sync_templates(account)["updated"] == 1
    assert Template.objects.get(name="hello_world").status == "PAUSED"


def test_template_parameters_are_checked_before_storing(sandbox, account):
    templates.sync_templates(account)
    body = [{"type": "body", "parameters": [{"type": "text", "text": "extra"}]}]
    with pytest.raises(TemplateError, match="the body takes 0 parameter") as raised:
        send_message(account, CUSTOMER, "template", template_name="hello_world", template_language="en_US",
                     template_components=body)  # fmt: skip
    assert raised.value.code == 132000
    Template.objects.filter(name="hello_world").update(status="PAUSED")
    with pytest.raises(TemplateError, match="PAUSED") as raised:
        send_message(account, CUSTOMER, "template", template_name="hello_world", template_language="en_US")
    assert raised.value.code == 132001
    assert Message.objects.count() == 0 and sandbox.sent_messages() == []


def test_expected_parameters_counts_placeholders_and_media_headers():
    components = [
        {"type": "HEADER", "format": "IMAGE"},
        {"type": "BODY", "text": "Hi {{1}}, your order {{2}} ships {{ 3 }}."},
        {"type": "FOOTER", "text": "{{not counted}}"},
    ]
    assert templates.expected_parameters(components) == {"header": 1, "body": 3}


def test_rate_limits_come_from_the_account_or_the_setting(account, settings, tmp_path):
    settings.WACLOUD = {
        **settings.WACLOUD,
        "RATE_LIMIT": {"PER_SECOND": 5, "BACKEND": f"sqlite:{tmp_path}/rl.db"},
    }
    assert clients.rate_limit_for(account) == {
        "per_second": 5, "per_hour": None, "backend": f"sqlite:{tmp_path}/rl.db",
    }  # fmt: skip
    limiter = clients.rate_limiter_for(account)
    assert clients.rate_limiter_for(account) is limiter  # one budget per process, shared by clients
    # A burst of 5 is allowed at once, the 6th is not (the budget lives in the SQLite file).
    assert [limiter.try_acquire(account.phone_number_id, "") for _ in range(6)] == [True] * 5 + [False]
    account.rate_limit_per_second, account.rate_limit_per_hour = 2, 100
    assert clients.rate_limit_for(account)["per_second"] == 2
    assert clients.rate_limit_for(account)["per_hour"] == 100


def test_a_bad_rate_limit_backend_names_the_setting(account, settings):
    from wacloud_django.exceptions import SettingError

    settings.WACLOUD = {**settings.WACLOUD, "RATE_LIMIT": {"BACKEND": "database"}}
    with pytest.raises(SettingError, match=r'WACLOUD\["RATE_LIMIT"\]\["BACKEND"\]'):
        clients.rate_limiter_for(account)


def test_interactive_content_survives_the_outbox_round_trip(
    sandbox, account, django_capture_on_commit_callbacks
):
    customer_writes(sandbox, account)
    with django_capture_on_commit_callbacks(execute=True):
        choices = [("yes", "Yes"), ("no", "No")]  # tuples: not JSON, stored as dicts
        buttons = send_message(account, CUSTOMER, "buttons", {"body": "Still there?", "buttons": choices})
        menu = send_message(account, CUSTOMER, "list", {
            "body": "Pick one", "button": "Menu", "sections": [{"title": "Sizes", "rows": [("s", "Small")]}],
        })  # fmt: skip
    for message in (buttons, menu):
        message.refresh_from_db()
        assert message.status == Message.Status.SENT, message.error_message
    sent = sandbox.message(buttons.wamid)["payload"]["interactive"]["action"]["buttons"]
    assert [b["reply"] for b in sent] == [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}]


@pytest.mark.parametrize("country", ["GB", "44", "+44"])
def test_national_numbers_read_with_the_default_country(settings, country):
    settings.WACLOUD = {**settings.WACLOUD, "DEFAULT_COUNTRY_CODE": country}
    assert outbound.normalize_recipient("07911 123456") == "447911123456"
    assert outbound.normalize_recipient("+1 650 555 1234") == "16505551234"
