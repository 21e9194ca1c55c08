"""Y/N confirmations (seed 003, docs/automation.md "Confirmations") with the sandbox as Meta
and replies as signed webhooks: reply buttons inside the window and the confirmation_request
template outside it, button taps and localized words, CANCEL opting out, expiry (task and
lazy) on a controlled clock, one question at a time, exactly-once resolution, the signal,
the REST API with its roles and tenancy, and the fall-through to support rules."""

from __future__ import annotations

import time
from datetime import timedelta
from itertools import count
from unittest import mock

import pytest
from api_support import Api, error_code, member, tenant_a, tenant_b
from django.core.cache import cache
from django.utils import timezone
from wacloud_test_helpers import USER, WABA_ID, envelope, text_message

from wacloud_django import signals, tasks
from wacloud_django.automation.services import confirmations, support
from wacloud_django.automation.services.consent_keywords import DEFAULT_CONFIRMATIONS
from wacloud_django.models import (
    AuditEntry,
    Confirmation,
    ConsentRecord,
    Contact,
    Message,
    Template,
    WebhookEvent,
)
from wacloud_django.services.clients import client_for
from wacloud_django.services.outbound import ContactOptedOut
from wacloud_django.services.webhooks import reprocess_webhook_events

pytestmark = pytest.mark.django_db

# Seed 003: its confirmation_request template and the body of its `POST .../confirmation` curl.
TEMPLATE_BODY = (
    "Hi {{1}}, \n\nThe AI Assistant wants to {{2}}. \n\nReply with:\n• Y to confirm\n• N to decline  \n"
    "• CANCEL to stop\n\nThis action will {{3}}."
)
SEED_BODY = {
    "action_type": "calendar_create",
    "action_description": "schedule a meeting with John",
    "action_details": "tomorrow at 3 PM in Conference Room A",
    "timeout_minutes": 30,
}
UNSUBSCRIBED = DEFAULT_CONFIRMATIONS["revoke"]["en"]
YES_RULE = {"trigger_keywords": ["yes"], "auto_response": "A person will help you."}
_wamids = count()


@pytest.fixture
def resolved():
    """Every confirmation_resolved sent, as its kwargs."""
    sent = []
    signals.confirmation_resolved.connect(
        lambda sender, **kw: sent.append(kw), weak=False, dispatch_uid="t-confirmation"
    )
    yield sent
    signals.confirmation_resolved.disconnect(dispatch_uid="t-confirmation")


@pytest.fixture
def ask(django_capture_on_commit_callbacks):
    """Ask the seed's question (overridable) and run what waits for the commit (the send)."""

    def ask(contact, **fields):
        arguments = {
            "action_type": SEED_BODY["action_type"],
            "description": SEED_BODY["action_description"],
            "details": SEED_BODY["action_details"],
            "timeout_minutes": 30,
            "payload": {"event_id": 7},
            **fields,
        }
        with django_capture_on_commit_callbacks(execute=True):
            return confirmations.request_confirmation(contact, **arguments)

    return ask


def at(moment):
    """Django's clock stopped at ``moment`` (services, tasks and webhook processing alike)."""
    return mock.patch("django.utils.timezone.now", return_value=moment)


def writes(post_webhook, sandbox, text, *, wa_id=USER):
    """The user writes ``text`` now: the sandbox opens its window, the signed webhook reaches us."""
    sandbox.inject_inbound(**{"from": wa_id}, name="Ana", type="text", text=text)
    wamid = f"wamid.confirm{next(_wamids)}"
    response = post_webhook(text_message(wamid, text, wa_id=wa_id, timestamp=int(timezone.now().timestamp())))
    assert response.status_code == 200
    return Message.objects.get(wamid=wamid)


def button_body(button_id, title, *, wamid=None, wa_id=USER, context=None):
    message = {
        "from": wa_id, "id": wamid or f"wamid.tap{next(_wamids)}", "timestamp": str(int(time.time())),
        "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": {"id": button_id, "title": title}},
    }  # fmt: skip
    if context:
        message["context"] = {"from": "972123456789", "id": context}
    return envelope({"messages": [message], "contacts": [{"profile": {"name": "Ana"}, "wa_id": wa_id}]})


def tap(post_webhook, confirmation, outcome):
    """The user taps one of the question's reply buttons."""
    (button,) = [b for b in buttons_of(confirmation) if b["id"].endswith(f":{outcome}")]
    response = post_webhook(
        button_body(button["id"], button["title"], context=confirmation.request_message.wamid)
    )
    assert response.status_code == 200


def buttons_of(confirmation):
    confirmation.refresh_from_db()
    return confirmation.request_message.content["buttons"]


def interactive_sent(sandbox):
    return [sent["payload"]["interactive"] for sent in sandbox.sent_messages(to=USER, type="interactive")]


def texts_sent(sandbox, wa_id=USER):
    return [sent["payload"]["text"]["body"] for sent in sandbox.sent_messages(to=wa_id, type="text")]


@pytest.fixture
def contact(post_webhook, sandbox, account):
    """Ana, who has just written (the 24-hour window is open)."""
    writes(post_webhook, sandbox, "hi")
    return Contact.objects.get(account=account, wa_id=USER)


# -- asking ----------------------------------------------------------------------------------------


def test_inside_the_window_the_question_has_reply_buttons(sandbox, contact, ask):
    confirmation = ask(contact)
    assert confirmation.status == "pending" and confirmation.organization == contact.account.organization
    (question,) = interactive_sent(sandbox)
    assert question["type"] == "button"
    assert question["body"]["text"] == (
        "Please confirm: schedule a meeting with John\n\ntomorrow at 3 PM in Conference Room A"
    )
    ids = [button["reply"]["id"] for button in question["action"]["buttons"]]
    assert ids == [f"wacloud-confirmation:{confirmation.pk}:{outcome}" for outcome in
                   ("confirmed", "declined", "cancelled")]  # fmt: skip
    assert [button["reply"]["title"] for button in question["action"]["buttons"]] == ["Yes", "No", "Cancel"]
    confirmation.refresh_from_db()
    message = confirmation.request_message
    assert message.status == "sent" and message.reference == f"confirmation-{confirmation.pk}"
    assert confirmation.expires_at == confirmation.sent_at + timedelta(minutes=30)
    entry = AuditEntry.objects.get(action="confirmation.request")
    assert entry.object_id == str(confirmation.pk) and entry.changes["status"] == "pending"


def test_outside_the_window_the_confirmation_request_template_is_sent(sandbox, account, ask):
    client_for(account).create_template(
        "confirmation_request", "en", "UTILITY",
        [{"type": "BODY", "text": TEMPLATE_BODY, "example": {"body_text": [["Ana", "do it", "happen"]]}}],
    )  # fmt: skip
    sandbox.set_template_status("confirmation_request", "APPROVED", language="en")
    Template.objects.create(
        waba_id=WABA_ID, name="confirmation_request", language="en", status="APPROVED", category="UTILITY",
        components=[{"type": "BODY", "text": TEMPLATE_BODY}],
    )  # fmt: skip
    contact = Contact.objects.create(account=account, wa_id=USER, name="Ana")  # never wrote
    confirmation = ask(contact)
    assert interactive_sent(sandbox) == []
    (sent,) = sandbox.sent_messages(to=USER, type="template")
    template = sent["payload"]["template"]
    assert (template["name"], template["language"]["code"]) == ("confirmation_request", "en")
    assert [p["text"] for p in template["components"][0]["parameters"]] == [
        "Ana", "schedule a meeting with John", "tomorrow at 3 PM in Conference Room A",
    ]  # fmt: skip
    confirmation.refresh_from_db()
    assert confirmation.status == "pending" and confirmation.request_message.status == "sent"


def test_a_template_that_is_not_approved_stores_nothing(sandbox, account, ask):
    Template.objects.create(waba_id=WABA_ID, name="confirmation_request", language="en", status="PAUSED",
                            components=[{"type": "BODY", "text": TEMPLATE_BODY}])  # fmt: skip
    contact = Contact.objects.create(account=account, wa_id=USER)
    with pytest.raises(Exception, match="only approved templates"):
        ask(contact)
    assert not Confirmation.objects.exists() and not Message.objects.filter(direction="outbound").exists()


def test_bad_requests_are_refused_with_the_field_named(contact, ask):
    from wacloud.errors import InvalidParameter

    for fields, field in [
        ({"description": "  "}, "description"), ({"action_type": 3}, "action_type"),
        ({"timeout_minutes": 0}, "timeout_minutes"), ({"timeout_minutes": 10**6}, "timeout_minutes"),
        ({"payload": ["x"]}, "payload"), ({"payload": {"when": timezone.now()}}, "payload"),
        ({"details": "x" * 501}, "details"),
    ]:  # fmt: skip
        with pytest.raises(InvalidParameter, match=f"^{field}: "):
            ask(contact, **fields)
    assert not Confirmation.objects.exists()


def test_an_opted_out_contact_is_not_asked(contact, ask):
    Contact.objects.filter(pk=contact.pk).update(opted_out=True)
    contact.refresh_from_db()
    with pytest.raises(ContactOptedOut):
        ask(contact)
    assert not Confirmation.objects.exists()


# -- replies ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["confirmed", "declined"])
def test_a_button_tap_resolves_and_fires_the_signal_once(
    post_webhook, sandbox, contact, ask, resolved, outcome
):
    confirmation = ask(contact)
    tap(post_webhook, confirmation, outcome)
    confirmation.refresh_from_db()
    assert confirmation.status == outcome and confirmation.resolved_at is not None
    reply = confirmation.reply_message
    assert reply.type == "interactive" and reply.reply_to == confirmation.request_message
    (signal,) = resolved
    assert signal["confirmation"] == confirmation and signal["status"] == outcome
    assert signal["payload"] == {"event_id": 7} and signal["message"] == reply
    assert signal["contact"] == contact and signal["account"] == contact.account
    entry = AuditEntry.objects.get(action=f"confirmation.{outcome}")
    assert entry.changes == {"status": ["pending", outcome]}
    assert Contact.objects.get(pk=contact.pk).opted_out is False


@pytest.mark.parametrize("payload", ["ours", "callback_data"])
def test_a_template_quick_reply_answers_by_its_payload_or_its_text(
    post_webhook, sandbox, contact, ask, payload
):
    confirmation = ask(contact)
    if payload == "ours":
        payload = f"wacloud-confirmation:{confirmation.pk}:declined"
    message = {
        "from": USER, "id": f"wamid.qr{next(_wamids)}", "timestamp": str(int(time.time())), "type": "button",
        "button": {"payload": payload, "text": "No"},
    }  # fmt: skip
    post_webhook(envelope({"messages": [message], "contacts": [{"profile": {"name": "Ana"}, "wa_id": USER}]}))
    assert Confirmation.objects.get(pk=confirmation.pk).status == "declined"


@pytest.mark.parametrize(
    ("text", "outcome"),
    [("Y", "confirmed"), ("yes!", "confirmed"), (" CONFIRM ", "confirmed"), ("Sim", "confirmed"),
     ("sí", "confirmed"), ("SI", "confirmed"), ("n", "declined"), ("No.", "declined"), ("NÃO", "declined"),
     ("nao", "declined"), ("Decline", "declined")],
)  # fmt: skip
def test_whole_message_words_resolve_in_any_language(
    post_webhook, sandbox, contact, ask, resolved, text, outcome
):
    confirmation = ask(contact)
    reply = writes(post_webhook, sandbox, text)
    confirmation.refresh_from_db()
    assert (confirmation.status, confirmation.reply_message) == (outcome, reply)
    assert [signal["status"] for signal in resolved] == [outcome]


@pytest.mark.parametrize("text", ["yes please", "no idea", "maybe", "ok"])
def test_other_texts_leave_it_pending(post_webhook, sandbox, contact, ask, resolved, text):
    confirmation = ask(contact)
    writes(post_webhook, sandbox, text)
    confirmation.refresh_from_db()
    assert confirmation.status == "pending" and resolved == []


@pytest.mark.parametrize("text", ["CANCEL", "stop", "Cancelar"])
def test_cancel_words_cancel_and_opt_out_once(post_webhook, sandbox, contact, ask, resolved, text):
    confirmation = ask(contact)
    queued = ask(contact, description="book a table")
    reply = writes(post_webhook, sandbox, text)
    confirmation.refresh_from_db()
    queued.refresh_from_db()
    assert (confirmation.status, confirmation.reply_message) == ("cancelled", reply)
    assert queued.status == "cancelled" and queued.error == "the contact opted out"
    contact.refresh_from_db()
    assert contact.opted_out is True
    # The consent keywords own STOP/CANCEL: one record, one "unsubscribed" reply.
    (record,) = ConsentRecord.objects.all()
    assert (record.message, record.source, record.status) == (reply, "keyword", "revoked")
    assert len(texts_sent(sandbox)) == 1 and len(interactive_sent(sandbox)) == 1
    assert [(s["confirmation"].pk, s["status"]) for s in resolved] == [
        (confirmation.pk, "cancelled"), (queued.pk, "cancelled"),
    ]  # fmt: skip


def test_the_cancel_button_opts_out_like_the_keyword(post_webhook, sandbox, contact, ask, resolved):
    confirmation = ask(contact)
    tap(post_webhook, confirmation, "cancelled")
    confirmation.refresh_from_db()
    assert confirmation.status == "cancelled"
    (record,) = ConsentRecord.objects.all()
    assert (record.message, record.source, record.status) == (
        confirmation.reply_message,
        "keyword",
        "revoked",
    )
    assert Contact.objects.get(pk=contact.pk).opted_out is True
    assert texts_sent(sandbox) == [UNSUBSCRIBED]


def test_a_cancel_word_that_is_not_a_consent_keyword_still_opts_out(
    post_webhook, sandbox, contact, ask, settings
):
    settings.WACLOUD = {**settings.WACLOUD, "CONFIRMATIONS": {"REPLIES": {"cancelled": {"en": ["ABORT"]},
                                                                          "confirmed": ["OUI"]}}}  # fmt: skip
    confirmation = ask(contact)
    writes(post_webhook, sandbox, "abort")
    confirmation.refresh_from_db()
    assert confirmation.status == "cancelled" and Contact.objects.get(pk=contact.pk).opted_out is True
    assert ConsentRecord.objects.get().text == "abort" and texts_sent(sandbox) == [UNSUBSCRIBED]


def test_a_redelivered_reply_resolves_once(post_webhook, sandbox, contact, ask, resolved):
    confirmation = ask(contact)
    body = button_body(f"wacloud-confirmation:{confirmation.pk}:confirmed", "Yes", wamid="wamid.twice")
    post_webhook(body)
    post_webhook(body)  # Meta redelivers
    reprocess_webhook_events(WebhookEvent.objects.values_list("pk", flat=True))
    assert len(resolved) == 1 and AuditEntry.objects.filter(action="confirmation.confirmed").count() == 1
    # A second worker holding the row from before the reply finds it resolved: nothing happens.
    stale = Confirmation.objects.get(pk=confirmation.pk)
    stale.status = "pending"
    with pytest.raises(confirmations.ConfirmationResolved):
        confirmations.cancel_confirmation(stale)
    assert Confirmation.objects.get(pk=confirmation.pk).status == "confirmed" and len(resolved) == 1


def test_a_button_of_another_contacts_confirmation_resolves_nothing(
    post_webhook, sandbox, contact, ask, resolved
):
    confirmation = ask(contact)
    sandbox.inject_inbound(**{"from": "972500000009"}, type="text", text="hi")
    post_webhook(
        button_body(f"wacloud-confirmation:{confirmation.pk}:confirmed", "Yes", wa_id="972500000009")
    )
    assert Confirmation.objects.get(pk=confirmation.pk).status == "pending" and resolved == []


# -- one at a time, expiry ---------------------------------------------------------------------------


def test_a_second_request_waits_and_is_asked_when_the_first_is_answered(post_webhook, sandbox, contact, ask):
    first = ask(contact)
    second = ask(contact, description="book a table for two")
    assert (first.status, second.status) == ("pending", "queued") and len(interactive_sent(sandbox)) == 1
    assert second.request_message is None and second.expires_at is None
    writes(post_webhook, sandbox, "yes")
    second.refresh_from_db()
    assert Confirmation.objects.get(pk=first.pk).status == "confirmed" and second.status == "pending"
    questions = interactive_sent(sandbox)
    assert len(questions) == 2 and questions[1]["body"]["text"].startswith(
        "Please confirm: book a table for two"
    )
    writes(post_webhook, sandbox, "no")  # answers the second question, not the first again
    assert Confirmation.objects.get(pk=second.pk).status == "declined"


def test_without_one_at_a_time_both_are_asked_and_a_word_answers_the_latest(
    post_webhook, sandbox, contact, ask, settings
):
    settings.WACLOUD = {**settings.WACLOUD, "CONFIRMATIONS": {"ONE_PENDING_PER_CONTACT": False}}
    first, second = ask(contact), ask(contact, description="book a table")
    assert (first.status, second.status) == ("pending", "pending") and len(interactive_sent(sandbox)) == 2
    writes(post_webhook, sandbox, "yes")
    assert Confirmation.objects.get(pk=second.pk).status == "confirmed"
    tap(post_webhook, first, "declined")  # the buttons still name their own question
    assert Confirmation.objects.get(pk=first.pk).status == "declined"


def test_expiry_by_the_task_asks_the_next_one(
    sandbox, contact, ask, resolved, django_capture_on_commit_callbacks
):
    first = ask(contact)
    second = ask(contact, description="book a table")
    first.refresh_from_db()
    with at(first.expires_at - timedelta(seconds=1)), django_capture_on_commit_callbacks(execute=True):
        assert tasks.expire_confirmations() == 0
    with at(first.expires_at), django_capture_on_commit_callbacks(execute=True):
        assert tasks.expire_confirmations() == 1
        assert tasks.expire_confirmations() == 0  # a second sweep (or scheduler) finds nothing
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == "expired" and first.reply_message is None and second.status == "pending"
    assert [(s["confirmation"].pk, s["status"], s["message"]) for s in resolved] == [
        (first.pk, "expired", None)
    ]
    assert AuditEntry.objects.get(action="confirmation.expired").source == "task"
    assert len(interactive_sent(sandbox)) == 2


def test_a_reply_after_the_timeout_expires_it_and_falls_through(
    post_webhook, sandbox, contact, ask, resolved
):
    support.create_support_rule(contact.account.organization, YES_RULE)
    confirmation = ask(contact)
    confirmation.refresh_from_db()
    with at(confirmation.expires_at + timedelta(minutes=1)):
        reply = writes(post_webhook, sandbox, "yes")
    confirmation.refresh_from_db()
    assert confirmation.status == "expired" and confirmation.reply_message is None
    assert [s["status"] for s in resolved] == ["expired"]
    assert not confirmations.resolved_by(reply)
    assert texts_sent(sandbox) == ["A person will help you."]  # the support rule answered it


def test_a_resolving_reply_is_left_alone_by_support_rules_and_the_help_desk(
    post_webhook, sandbox, contact, ask, settings
):
    from wacloud_django.models import Ticket

    support.create_support_rule(contact.account.organization, YES_RULE)
    settings.WACLOUD = {**settings.WACLOUD, "HELPDESK": {"ENABLED": True}}
    ask(contact)
    writes(post_webhook, sandbox, "yes")
    assert Confirmation.objects.get().status == "confirmed" and texts_sent(sandbox) == []
    assert not Ticket.objects.exists()
    writes(post_webhook, sandbox, "yes")  # nothing pending any more: both take it
    assert texts_sent(sandbox)[0] == "A person will help you." and Ticket.objects.count() == 1


# -- REST --------------------------------------------------------------------------------------------


@pytest.fixture
def tenants(db):
    cache.clear()  # throttles count in the cache
    a, b = tenant_a(), tenant_b()
    Confirmation.objects.all().delete()  # the tenants' own (api_support): these tests make theirs
    yield a, b
    cache.clear()


def test_api_asks_lists_shows_and_cancels(
    client, sandbox, tenants, resolved, django_capture_on_commit_callbacks
):
    a, _ = tenants
    sandbox.inject_inbound(**{"from": a.contact.wa_id}, type="text", text="hi")
    user = member(a.organization, "agent")
    api = Api(client, user)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "confirmation", {**SEED_BODY, "recipient": f"+{a.contact.wa_id}", "payload": {"k": 1}}
        )
    assert response.status_code == 201, response.content
    body = response.json()["confirmation"]
    assert (body["status"], body["contact"], body["wa_id"]) == ("pending", a.contact.pk, a.contact.wa_id)
    assert body["action_description"] == SEED_BODY["action_description"] and body["payload"] == {"k": 1}
    assert body["requested_by"] == user.username and body["request_message"]  # sent after the commit
    with django_capture_on_commit_callbacks(execute=True):
        queued = api.post("confirmation", {**SEED_BODY, "contact": a.contact.pk}).json()["confirmation"]
    assert queued["status"] == "queued"
    listed = api.get("confirmations", {"status": "pending"}).json()
    assert [row["id"] for row in listed["results"]] == [body["id"]]
    assert api.get("confirmations", {"contact": a.contact.pk}).json()["count"] == 2
    shown = api.get(f"confirmations/{body['id']}").json()["confirmation"]
    assert shown["id"] == body["id"] and shown["request_wamid"].startswith("wamid.")
    with django_capture_on_commit_callbacks(execute=True):
        cancelled = api.post(f"confirmations/{body['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["confirmation"]["status"] == "cancelled"
    assert Confirmation.objects.get(pk=queued["id"]).status == "pending"  # asked next
    assert Contact.objects.get(pk=a.contact.pk).opted_out is False  # the business withdrew, not the user
    again = api.post(f"confirmations/{body['id']}/cancel")
    assert again.status_code == 409 and error_code(again) == "CONFIRMATION_RESOLVED"
    entry = AuditEntry.objects.get(action="confirmation.cancelled")
    assert (entry.actor, entry.source) == (user, "api")
    assert [s["status"] for s in resolved] == ["cancelled"]


def test_api_refuses_bad_requests(client, sandbox, tenants):
    a, _ = tenants
    api = Api(client, member(a.organization, "agent"))
    for bad in (
        {k: v for k, v in SEED_BODY.items() if k != "action_description"} | {"recipient": a.contact.wa_id},
        {**SEED_BODY},  # nobody named
        {**SEED_BODY, "recipient": a.contact.wa_id, "contact": a.contact.pk},
        {**SEED_BODY, "recipient": a.contact.wa_id, "timeout_minutes": 0},
        {**SEED_BODY, "recipient": a.contact.wa_id, "payload": "not an object"},
    ):
        response = api.post("confirmation", bad)
        assert response.status_code == 400 and error_code(response) == "VALIDATION_ERROR", response.content
    response = api.post("confirmation", {**SEED_BODY, "recipient": a.contact.wa_id, "timeout_minutes": 10**6})
    assert response.status_code == 400 and error_code(response) == "INVALID_PARAMETER"
    assert "timeout_minutes" in response.json()["error"]
    response = api.post("confirmation", {**SEED_BODY, "recipient": "not a number"})
    assert response.status_code == 400 and error_code(response) == "INVALID_PHONE_NUMBER"
    Contact.objects.filter(pk=a.contact.pk).update(opted_out=True)
    response = api.post("confirmation", {**SEED_BODY, "contact": a.contact.pk})
    assert response.status_code == 400 and error_code(response) == "CONTACT_OPTED_OUT"
    response = api.get("confirmations", {"status": "maybe"})
    assert response.status_code == 400 and error_code(response) == "VALIDATION_ERROR"
    assert not Confirmation.objects.exists()
    viewer = Api(client, member(a.organization, "viewer"))
    assert (
        error_code(viewer.post("confirmation", {**SEED_BODY, "contact": a.contact.pk})) == "PERMISSION_DENIED"
    )
    assert viewer.get("confirmations").status_code == 200


def test_another_organizations_confirmations_are_invisible(client, tenants):
    a, b = tenants
    theirs = Confirmation.objects.create(
        organization=b.organization, account=b.account, contact=b.contact, action_type="secret_action",
        description="B's secret", timeout_minutes=30,
    )  # fmt: skip
    api = Api(client, member(a.organization, "admin"))
    assert api.get("confirmations").json()["count"] == 0
    for method, path in (
        ("GET", f"confirmations/{theirs.pk}"),
        ("POST", f"confirmations/{theirs.pk}/cancel"),
    ):
        response = api.call(method, path)
        assert response.status_code == 404 and error_code(response) == "NOT_FOUND"
        assert b"secret" not in response.content
    response = api.post("confirmation", {**SEED_BODY, "contact": b.contact.pk})
    assert response.status_code == 404
    assert Confirmation.objects.get(pk=theirs.pk).status == "pending" and Confirmation.objects.count() == 1


def test_the_admin_lists_confirmations_read_only(client, tenants):
    from django.urls import reverse

    a, b = tenants
    for tenant in (a, b):
        Confirmation.objects.create(
            organization=tenant.organization, account=tenant.account, contact=tenant.contact,
            action_type=f"{tenant.organization.slug}_action", description="x", timeout_minutes=5,
        )  # fmt: skip
    staff = member(a.organization, "admin", username="staff-a", is_staff=True, is_superuser=False)
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(Permission.objects.get(codename="view_confirmation"))
    client.force_login(staff)
    page = client.get(reverse("admin:wacloud_confirmation_changelist"), {"status__exact": "pending"})
    assert page.status_code == 200
    assert b"org-a_action" in page.content and b"org-b_action" not in page.content
    assert client.get(reverse("admin:wacloud_confirmation_add")).status_code == 403
