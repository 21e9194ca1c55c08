"""The REST API's messaging endpoints against the sandbox: send and messages/send with the
bodies of seeds 000 and 004 as written, the errors they answer, conversations (list,
messages, read) and messages/<wa_id or wamid>."""

from __future__ import annotations

from datetime import timedelta

import pytest
from api_test_helpers import ACCESS_TOKEN, CUSTOMER, Api, customer_writes, error_of, member
from django.utils import timezone

from wacloud_django.models import Contact, Conversation, Message

pytestmark = pytest.mark.django_db

# Seed 000's template body, as written (its placeholders filled in).
SEED_000_TEMPLATE = {
    "name": "appointment_reminder",
    "language": {"code": "en"},
    "components": [
        {
            "type": "body",
            "parameters": [
                {"type": "text", "text": "John"},
                {"type": "text", "text": "January 15 at 2:00 PM"},
            ],
        }
    ],
}
SEED_000_BUTTONS = {
    "type": "button",
    "body": {"text": "Would you like to schedule an appointment?"},
    "action": {
        "buttons": [
            {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
            {"type": "reply", "reply": {"id": "no", "title": "No"}},
        ]
    },
}
LIST = {
    "type": "list",
    "body": {"text": "Pick a time"},
    "action": {
        "button": "Times",
        "sections": [{"title": "Monday", "rows": [{"id": "mon-9", "title": "9:00"}]}],
    },
}


@pytest.fixture
def api(account):
    return Api(member(account, "admin"))


@pytest.fixture
def approved_template(sandbox):
    """Seed 000's appointment_reminder, approved at the sandbox (body takes two parameters)."""
    from wacloud_django.services.clients import client_for

    def make(account, name="appointment_reminder", language="en"):
        body = {"type": "BODY", "text": "Hello {{1}}, your appointment is on {{2}}.",
                "example": {"body_text": [["John", "Monday"]]}}  # fmt: skip
        client_for(account).create_template(name, language, "UTILITY", [body])
        sandbox.set_template_status(name, "APPROVED", language=language)

    return make


def sent_to_sandbox(sandbox, message_id):
    [sent] = [m for m in sandbox.sent_messages(to=CUSTOMER) if m["id"] == message_id]
    return sent["payload"]


# -- send, messages/send ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["send", "messages/send", "send/", "messages/send/"])
def test_seed_000_text_is_sent_and_answered_with_its_wamid(sandbox, post_webhook, api, path):
    customer_writes(sandbox, post_webhook)
    body = {"to": "+" + CUSTOMER, "type": "text", "content": {"body": "Hello! How can we help you today?"}}
    response = api.post(path, body)
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["success"] is True and answer["messageId"].startswith("wamid.")
    payload = sent_to_sandbox(sandbox, answer["messageId"])
    assert payload["type"] == "text" and payload["text"]["body"] == "Hello! How can we help you today?"
    message = Message.objects.get(wamid=answer["messageId"])
    assert message.status == Message.Status.SENT and message.contact.wa_id == CUSTOMER


def test_seed_004_text_with_ticket_id_keeps_the_ticket_as_reference(sandbox, post_webhook, api):
    customer_writes(sandbox, post_webhook)
    body = {"to": CUSTOMER, "type": "text", "content": {"text": "Olá! Seu chamado foi atualizado."},
            "ticketId": 1234}  # fmt: skip
    answer = api.post("send", body).json()
    assert answer["success"] is True and answer["messageId"].startswith("wamid.")
    assert sent_to_sandbox(sandbox, answer["messageId"])["text"]["body"] == "Olá! Seu chamado foi atualizado."
    assert Message.objects.get(wamid=answer["messageId"]).reference == "1234"
    assert answer["reference"] == "1234"


def test_seed_000_template_goes_out_with_name_language_and_components(
    sandbox, account, api, approved_template
):
    approved_template(account)  # templates may go to a number that never wrote
    response = api.post("send", {"to": "+" + CUSTOMER, "type": "template", "content": SEED_000_TEMPLATE})
    assert response.status_code == 200, response.content
    payload = sent_to_sandbox(sandbox, response.json()["messageId"])
    assert payload["type"] == "template"
    assert payload["template"]["name"] == "appointment_reminder"
    assert payload["template"]["language"]["code"] == "en"
    [component] = payload["template"]["components"]
    assert [p["text"] for p in component["parameters"]] == ["John", "January 15 at 2:00 PM"]


def test_seed_004_template_body_with_template_name_and_language_code(
    sandbox, account, api, approved_template
):
    approved_template(account, "ticket_created", "pt_BR")
    content = {
        "templateName": "ticket_created",
        "languageCode": "pt_BR",
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "João"},
                                                        {"type": "text", "text": "1234"}]}],
    }  # fmt: skip
    answer = api.post("messages/send", {"to": CUSTOMER, "type": "template", "content": content}).json()
    assert answer["success"] is True, answer
    payload = sent_to_sandbox(sandbox, answer["messageId"])
    assert payload["template"]["name"] == "ticket_created"
    assert payload["template"]["language"]["code"] == "pt_BR"
    assert payload["template"]["components"][0]["parameters"][0]["text"] == "João"


@pytest.mark.parametrize(
    "kind, content, expected",
    [
        ("image", {"media_id": "{media_id}", "caption": "Product image"}, {"id": "{media_id}"}),
        ("image", {"link": "https://example.com/p.png", "caption": "Product image"},
         {"link": "https://example.com/p.png"}),
        ("media", {"media_type": "image", "media_id": "{media_id}", "caption": "Product image"},
         {"id": "{media_id}"}),
    ],
)  # fmt: skip
def test_seed_000_media_by_id_or_link_with_caption(sandbox, post_webhook, api, kind, content, expected):
    from api_test_helpers import PNG

    media_id = sandbox._call(sandbox._core.store_media, PNG, "image/png")["id"]
    customer_writes(sandbox, post_webhook)
    content = {key: value.replace("{media_id}", media_id) for key, value in content.items()}
    answer = api.post("send", {"to": CUSTOMER, "type": kind, "content": content}).json()
    assert answer["success"] is True, answer
    payload = sent_to_sandbox(sandbox, answer["messageId"])
    assert payload["type"] == "image"
    assert payload["image"]["caption"] == "Product image"
    for key, value in expected.items():
        assert payload["image"][key] == value.replace("{media_id}", media_id)


def test_seed_000_interactive_buttons(sandbox, post_webhook, api):
    customer_writes(sandbox, post_webhook)
    answer = api.post("send", {"to": CUSTOMER, "type": "interactive", "content": SEED_000_BUTTONS}).json()
    assert answer["success"] is True, answer
    interactive = sent_to_sandbox(sandbox, answer["messageId"])["interactive"]
    assert interactive["type"] == "button"
    assert interactive["body"]["text"] == "Would you like to schedule an appointment?"
    assert [b["reply"] for b in interactive["action"]["buttons"]] == [
        {"id": "yes", "title": "Yes"},
        {"id": "no", "title": "No"},
    ]


def test_interactive_list(sandbox, post_webhook, api):
    customer_writes(sandbox, post_webhook)
    answer = api.post("send", {"to": CUSTOMER, "type": "interactive", "content": LIST}).json()
    assert answer["success"] is True, answer
    interactive = sent_to_sandbox(sandbox, answer["messageId"])["interactive"]
    assert interactive["type"] == "list" and interactive["action"]["button"] == "Times"
    assert interactive["action"]["sections"][0]["rows"][0]["id"] == "mon-9"


def test_interactive_product_and_product_list_from_the_catalog(sandbox, post_webhook, api):
    customer_writes(sandbox, post_webhook)
    product = {"type": "product", "action": {"catalog_id": "367025965434465", "product_retailer_id": "sku-1"}}
    answer = api.post("send", {"to": CUSTOMER, "type": "interactive", "content": product}).json()
    assert answer["success"] is True, answer
    sent = sent_to_sandbox(sandbox, answer["messageId"])["interactive"]
    assert sent == {"type": "product", **{"action": product["action"]}}
    assert Message.objects.get(wamid=answer["messageId"]).text == "[product sku-1]"
    products = {
        "type": "product_list", "header": {"type": "text", "text": "Our picks"},
        "body": {"text": "Take a look"},
        "action": {"catalog_id": "367025965434465",
                   "sections": [{"title": "Shoes", "product_items": [{"product_retailer_id": "sku-1"}]}]},
    }  # fmt: skip
    answer = api.post("send", {"to": CUSTOMER, "type": "interactive", "content": products}).json()
    assert answer["success"] is True, answer
    sent = sent_to_sandbox(sandbox, answer["messageId"])["interactive"]
    assert (sent["type"], sent["header"]["text"], sent["action"]["sections"][0]["product_items"]) == (
        "product_list", "Our picks", [{"product_retailer_id": "sku-1"}])  # fmt: skip
    no_header = {**products, "header": None}
    refused = api.post("send", {"to": CUSTOMER, "type": "interactive", "content": no_header})
    assert refused.status_code == 400 and "content.header.text" in refused.json()["details"]["content"]


def test_text_to_a_number_that_never_wrote_is_refused_by_the_window(sandbox, api):
    response = api.post("send", {"to": CUSTOMER, "type": "text", "content": {"body": "hi"}})
    body = error_of(response, 400, "SERVICE_WINDOW_CLOSED")
    assert "24-hour" in body["error"]
    assert sandbox.sent_messages() == [] and not Message.objects.exists()


@pytest.mark.parametrize("to", ["+999 12", "not a number"])
def test_bad_number_is_invalid_phone_number(sandbox, api, to):
    error_of(
        api.post("send", {"to": to, "type": "text", "content": {"body": "hi"}}), 400, "INVALID_PHONE_NUMBER"
    )
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"type": "text", "content": {"body": "hi"}}, "to"),
        ({"to": CUSTOMER, "type": "text"}, "content"),
        ({"to": CUSTOMER, "type": "fax", "content": {"body": "hi"}}, "type"),
        ({"to": CUSTOMER, "type": "text", "content": {"caption": "no body"}}, "content"),
        ({"to": CUSTOMER, "type": "template", "content": {"language": {"code": "en"}}}, "content"),
        ({"to": CUSTOMER, "type": "interactive", "content": {"type": "button", "body": {"text": "x"}}},
         "content"),
    ],
)  # fmt: skip
def test_bad_body_is_a_validation_error_naming_the_field(sandbox, api, body, field):
    details = error_of(api.post("send", body), 400, "VALIDATION_ERROR")["details"]
    assert field in details, details


def test_what_meta_would_refuse_is_refused_here_as_400(
    sandbox, account, post_webhook, api, approved_template
):
    customer_writes(sandbox, post_webhook)
    too_long = {"to": CUSTOMER, "type": "text", "content": {"body": "x" * 5000}}  # Meta's limit: 4096
    error_of(api.post("send", too_long), 400, "INVALID_PARAMETER")
    approved_template(account)
    from wacloud_django.services.templates import sync_templates

    sync_templates(account)
    one_parameter = {
        **SEED_000_TEMPLATE,
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "J"}]}],
    }
    response = api.post("send", {"to": CUSTOMER, "type": "template", "content": one_parameter})
    body = error_of(response, 400, "WHATSAPP_API_ERROR")
    assert body["details"]["code"] == 132000
    assert len(sandbox.sent_messages()) == 0


def test_meta_error_keeps_its_code_and_fbtrace_id_and_never_the_token(sandbox, post_webhook, api, settings):
    settings.WACLOUD = {**settings.WACLOUD, "MAX_RETRIES": 0}
    customer_writes(sandbox, post_webhook)
    sandbox.set_faults(error_rate=1.0)  # every Graph request: 131000 (500) or 2 (503)
    response = api.post("send", {"to": CUSTOMER, "type": "text", "content": {"body": "hi"}})
    # Transient at Meta: nothing was sent, so it may be retried (docs/api.md).
    body = error_of(response, 503, "SEND_FAILED_RETRIABLE")
    assert body["details"]["code"] in (131000, 2)
    assert body["details"]["fbtrace_id"]
    assert ACCESS_TOKEN not in response.content.decode()
    assert Message.objects.get(direction="outbound").status == Message.Status.FAILED


def test_meta_rejection_answers_400_with_metas_code(sandbox, account, post_webhook, api, settings):
    customer_writes(sandbox, post_webhook)
    account.access_token = "EAAG-revoked"  # Meta answers 190
    account.save()
    response = api.post("send", {"to": CUSTOMER, "type": "text", "content": {"body": "hi"}})
    body = error_of(response, 400, "WHATSAPP_API_ERROR")
    assert body["details"]["code"] == 190 and body["details"]["fbtrace_id"]
    assert "EAAG-revoked" not in response.content.decode() and ACCESS_TOKEN not in response.content.decode()


def test_meta_rate_limit_is_a_429_with_retry_after(sandbox, post_webhook, api, settings):
    settings.WACLOUD = {**settings.WACLOUD, "MAX_RETRIES": 0}
    customer_writes(sandbox, post_webhook)
    sandbox.set_faults(rate_limit_next=1)
    response = api.post("send", {"to": CUSTOMER, "type": "text", "content": {"body": "hi"}})
    body = error_of(response, 429, "WHATSAPP_RATE_LIMITED")
    assert int(response["Retry-After"]) > 0
    assert body["details"]["code"] == 130429 and body["details"]["fbtrace_id"]


# -- conversations ----------------------------------------------------------------------------------


def conversation_with(account, wa_id, name="", unread=0, status="open", minutes_ago=0):
    contact = Contact.objects.create(account=account, wa_id=wa_id, name=name)
    when = timezone.now() - timedelta(minutes=minutes_ago)
    return Conversation.objects.create(
        account=account, contact=contact, status=status, unread_count=unread, last_message_at=when
    )


def test_conversations_paginate_with_limit_and_offset(account, api):
    for n in range(5):
        conversation_with(account, f"551199999000{n}", minutes_ago=n)
    answer = api.get("conversations", {"limit": 2, "offset": 1}).json()
    assert answer["success"] is True and answer["count"] == 5
    assert answer["limit"] == 2 and answer["offset"] == 1
    assert [c["contact"]["wa_id"] for c in answer["results"]] == ["5511999990001", "5511999990002"]


def test_conversations_filter_by_status_unread_and_search(account, api):
    conversation_with(account, "5511999990001", name="Maria Souza", unread=2)
    conversation_with(account, "5511999990002", name="João", status="closed")
    conversation_with(account, "5511999990003", name="Pedro")

    def numbers(**params):
        return sorted(c["contact"]["wa_id"] for c in api.get("conversations", params).json()["results"])

    assert numbers(status="closed") == ["5511999990002"]
    assert numbers(status="open") == ["5511999990001", "5511999990003"]
    assert numbers(unread="true") == ["5511999990001"]
    assert numbers(search="souza") == ["5511999990001"]
    assert numbers(search="990003") == ["5511999990003"]
    assert numbers(search="+5511999990003") == ["5511999990003"]  # as people write numbers


def test_conversation_messages_newest_first(sandbox, post_webhook, api):
    customer_writes(sandbox, post_webhook, "first")
    api.post("send", {"to": CUSTOMER, "type": "text", "content": {"body": "answer"}})
    conversation = Conversation.objects.get()
    answer = api.get(f"conversations/{conversation.pk}/messages").json()
    assert answer["count"] == 2
    assert [(m["direction"], m["text"]) for m in answer["results"]] == [
        ("outbound", "answer"),
        ("inbound", "first"),
    ]
    error_of(api.get("conversations/999999/messages"), 404, "NOT_FOUND")


def test_read_zeroes_unread_and_sends_the_receipt(sandbox, post_webhook, api):
    customer_writes(sandbox, post_webhook, "one")
    wamid = customer_writes(sandbox, post_webhook, "two")
    conversation = Conversation.objects.get()
    assert conversation.unread_count == 2
    answer = api.post(f"conversations/{conversation.pk}/read").json()
    assert answer["success"] is True and answer["unread_count"] == 0
    assert answer["receipt"] == {"sent": True, "error": None}
    conversation.refresh_from_db()
    assert conversation.unread_count == 0
    [received] = [m for m in sandbox.inbound_messages() if m["id"] == wamid]
    assert received["read"] is True


# -- messages/<wa_id>, messages/<wamid> -----------------------------------------------------------------


def test_message_history_by_whatsapp_id(sandbox, post_webhook, api):
    customer_writes(sandbox, post_webhook, "hello")
    api.post("send", {"to": CUSTOMER, "type": "text", "content": {"body": "hi back"}})
    for wa_id in (CUSTOMER, "+" + CUSTOMER):
        answer = api.get(f"messages/{wa_id}", {"limit": 100}).json()
        assert answer["count"] == 2
        assert {m["text"] for m in answer["results"]} == {"hello", "hi back"}
        assert {m["contact"] for m in answer["results"]} == {CUSTOMER}
    assert api.get(f"messages/{CUSTOMER}", {"limit": 1}).json()["results"][0]["text"] == "hi back"
    error_of(api.get("messages/5511900000000"), 404, "NOT_FOUND")


def test_one_message_by_wamid(sandbox, post_webhook, api):
    wamid = customer_writes(sandbox, post_webhook, "hello")
    answer = api.get(f"messages/{wamid}").json()
    assert answer["success"] is True
    assert answer["message"]["whatsapp_id"] == wamid and answer["message"]["text"] == "hello"
    error_of(api.get("messages/wamid.unknown"), 404, "NOT_FOUND")
