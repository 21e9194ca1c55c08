"""Consent (docs/automation.md): keywords through signed webhooks, the confirmation at the
sandbox, the append-only history, Meta's user_preferences, the check every send makes
(Python and REST), marketing, the consent API and its tenancy."""

from __future__ import annotations

import time

import pytest
from api_support import Api, error_code, member, tenant_a, tenant_b
from django.core.cache import cache
from wacloud_test_helpers import USER, WABA_ID, envelope, text_message

from wacloud.errors import InvalidParameter
from wacloud_django import signals
from wacloud_django.automation.services import consent
from wacloud_django.automation.services.consent_keywords import (
    DEFAULT_CONFIRMATIONS,
    match_keyword,
    normalize,
)
from wacloud_django.exceptions import SettingError
from wacloud_django.models import AuditEntry, ConsentRecord, Contact, Message, Template, WebhookEvent
from wacloud_django.services import tenancy
from wacloud_django.services.outbound import ConsentRequired, ContactOptedOut, send_message
from wacloud_django.services.webhooks import reprocess_webhook_events

pytestmark = pytest.mark.django_db

UNSUBSCRIBED = DEFAULT_CONFIRMATIONS["revoke"]
SUBSCRIBED = DEFAULT_CONFIRMATIONS["grant"]


@pytest.fixture
def changes():
    """Every consent_changed sent, as its kwargs."""
    sent = []
    signals.consent_changed.connect(
        lambda sender, **kw: sent.append(kw), weak=False, dispatch_uid="t-consent"
    )
    yield sent
    signals.consent_changed.disconnect(dispatch_uid="t-consent")


_counter = iter(range(10**6))


def user_writes(post_webhook, sandbox, text, *, wa_id=USER, timestamp=None):
    """The user sends ``text`` now: the sandbox opens its window, Meta's signed webhook reaches us."""
    sandbox.inject_inbound(**{"from": wa_id}, name="Ana", type="text", text=text)
    wamid = f"wamid.c{next(_counter)}"
    response = post_webhook(text_message(wamid, text, wa_id=wa_id, timestamp=timestamp or int(time.time())))
    assert response.status_code == 200
    return Message.objects.get(wamid=wamid)


def replies(sandbox, wa_id=USER):
    return [sent["payload"]["text"]["body"] for sent in sandbox.sent_messages(to=wa_id, type="text")]


def marketing_template() -> Template:
    """hello_world as a MARKETING template (the sandbox knows it; our row gives the category)."""
    return Template.objects.create(
        waba_id=WABA_ID, name="hello_world", language="en_US", status="APPROVED", category="MARKETING",
        components=[{"type": "BODY", "text": "Spring sale"}],
    )  # fmt: skip


def send_template(account, to=USER, **kwargs):
    return send_message(account, to, "template", template_name="hello_world", template_language="en_US",
                        enqueue=False, **kwargs)  # fmt: skip


# -- keywords ------------------------------------------------------------------------------------


def test_stop_revokes_confirms_and_start_grants_again(post_webhook, sandbox, account, changes):
    stop = user_writes(post_webhook, sandbox, "STOP")
    contact = Contact.objects.get(wa_id=USER)
    [record] = contact.consent_records.all()
    assert (record.purpose, record.status, record.source) == ("whatsapp_messaging", "revoked", "keyword")
    assert (record.text, record.message, record.occurred_at) == ("STOP", stop, stop.timestamp)
    assert contact.opted_out is True and contact.opted_out_at == stop.timestamp
    assert replies(sandbox) == [UNSUBSCRIBED["en"]]
    confirmation = Message.objects.get(direction="outbound")
    assert (confirmation.status, confirmation.reference) == ("sent", "consent-confirmation")

    start = user_writes(post_webhook, sandbox, "start")
    contact.refresh_from_db()
    assert contact.opted_out is False and contact.opted_in is True and contact.opted_in_at == start.timestamp
    assert [r.status for r in contact.consent_records.all()] == ["granted", "revoked"]  # newest first
    assert replies(sandbox) == [UNSUBSCRIBED["en"], SUBSCRIBED["en"]]
    assert [(c["purpose"], c["previous_status"], c["status"], c["source"]) for c in changes] == [
        ("whatsapp_messaging", None, "revoked", "keyword"),
        ("whatsapp_messaging", "revoked", "granted", "keyword"),
    ]
    assert changes[0]["contact"] == contact and changes[0]["account"] == account


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("stop", "en"),
        ("  Stop!  ", "en"),
        ("UnSubscribe.", "en"),
        ("cancel", "en"),
        ("Parar", "pt"),
        ("descadastrar", "pt"),
        ("BAJA", "es"),
        ("cancelar suscripcion", "es"),  # written without the accent
        ("CANCELAR  SUSCRIPCIÓN", "es"),
        ("\uff53\uff54\uff4f\uff50", "en"),  # full-width letters
    ],
)
def test_revoke_keywords_ignore_case_accents_and_punctuation(post_webhook, sandbox, account, text, language):
    user_writes(post_webhook, sandbox, text)
    assert Contact.objects.get(wa_id=USER).opted_out is True
    assert replies(sandbox) == [UNSUBSCRIBED[language]]  # in the keyword's language


@pytest.mark.parametrize(
    "text", ["please stop", "stop it", "stopp", "STOP STOP", "don't unsubscribe me", "s t o p"]
)
def test_only_the_whole_message_is_a_keyword(post_webhook, sandbox, account, text):
    user_writes(post_webhook, sandbox, text)
    assert Contact.objects.get(wa_id=USER).opted_out is False
    assert not ConsentRecord.objects.exists() and replies(sandbox) == []


def test_a_late_keyword_is_kept_but_changes_nothing(post_webhook, sandbox, account, changes):
    now = int(time.time())
    user_writes(post_webhook, sandbox, "START", timestamp=now)
    user_writes(post_webhook, sandbox, "STOP", timestamp=now - 60)  # delivered after, written before
    contact = Contact.objects.get(wa_id=USER)
    assert contact.opted_out is False and contact.consent_records.count() == 2
    assert consent.current_consent(contact)["whatsapp_messaging"] == "granted"
    assert replies(sandbox) == [SUBSCRIBED["en"]]  # no "unsubscribed" that would be false
    assert [c["status"] for c in changes] == ["granted"]


def test_redelivery_and_reprocessing_record_once(post_webhook, sandbox, account):
    body = text_message("wamid.stop", "STOP", timestamp=int(time.time()))
    sandbox.inject_inbound(**{"from": USER}, type="text", text="STOP")
    post_webhook(body)
    post_webhook(body)  # Meta redelivers
    reprocess_webhook_events(WebhookEvent.objects.values_list("pk", flat=True))
    assert ConsentRecord.objects.count() == 1 and len(replies(sandbox)) == 1


def test_keyword_outside_the_window_is_recorded_without_a_confirmation(post_webhook, sandbox, account):
    post_webhook(text_message("wamid.old", "STOP", timestamp=int(time.time()) - 2 * 86400))
    assert Contact.objects.get(wa_id=USER).opted_out is True
    assert replies(sandbox) == [] and not Message.objects.filter(direction="outbound").exists()


def test_keywords_and_confirmations_are_settings(post_webhook, sandbox, account, settings):
    settings.WACLOUD = {
        **settings.WACLOUD,
        "CONSENT_KEYWORDS": {"revoke": {"fr": ["ARRÊT"]}, "grant": ["GO"]},
        "CONSENT_CONFIRMATIONS": {"revoke": {"en": "Bye."}},
    }
    user_writes(post_webhook, sandbox, "STOP")  # not a keyword any more
    assert not ConsentRecord.objects.exists()
    user_writes(post_webhook, sandbox, "arret")
    assert Contact.objects.get(wa_id=USER).opted_out is True
    user_writes(post_webhook, sandbox, "go")
    assert Contact.objects.get(wa_id=USER).opted_out is False
    assert replies(sandbox) == ["Bye."]  # French falls back to English; no grant text: no reply
    settings.WACLOUD = {**settings.WACLOUD, "CONSENT_KEYWORDS": {"stop": ["STOP"]}}
    with pytest.raises(SettingError, match=r'WACLOUD\["CONSENT_KEYWORDS"\]'):
        match_keyword("stop")


def test_normalize():
    assert normalize("  ¡Cancelar   Suscripción!  ") == "cancelar suscripcion"
    assert match_keyword("cancelar") == ("revoke", "pt") and match_keyword("hello") is None


# -- the history ---------------------------------------------------------------------------------


def test_the_history_is_append_only(account):
    contact = Contact.objects.create(account=account, wa_id=USER)
    record = consent.record_consent(
        contact, "marketing", "granted", source="import", text="Signed up at the shop"
    )
    record.status = "revoked"
    with pytest.raises(ValueError, match="append-only"):
        record.save()
    with pytest.raises(TypeError, match="append-only"):
        ConsentRecord.objects.filter(pk=record.pk).update(status="revoked")
    with pytest.raises(TypeError, match="append-only"):
        contact.consent_records.update(text="")
    consent.record_consent(contact, "marketing", "revoked", source="api")
    assert list(ConsentRecord.objects.order_by("pk").values_list("status", "text")) == [
        ("granted", "Signed up at the shop"),
        ("revoked", ""),
    ]
    assert consent.current_consent(contact) == {"whatsapp_messaging": None, "marketing": "revoked"}
    entry = AuditEntry.objects.filter(action="consent.revoke").get()
    assert (
        entry.changes == {"marketing": ["granted", "revoked"]} and entry.organization == account.organization
    )
    with pytest.raises(InvalidParameter, match="purpose"):
        consent.record_consent(contact, "everything", "granted", source="api")


def test_consent_changed_waits_for_the_commit(account, changes, django_capture_on_commit_callbacks):
    contact = Contact.objects.create(account=account, wa_id=USER)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        consent.record_consent(contact, "marketing", "revoked", source="api")
        assert changes == []
    assert len(callbacks) == 1 and changes[0]["record"].status == "revoked"
    with django_capture_on_commit_callbacks(execute=True):
        consent.record_consent(contact, "marketing", "revoked", source="api")  # no change of state
    assert len(changes) == 1


def test_user_preferences_webhook_records_marketing_consent(post_webhook, account, changes):
    def preference(value, stamp):
        item = {"wa_id": USER, "category": "marketing_messages", "value": value, "timestamp": stamp,
                "detail": f"User requested to {value} marketing messages"}  # fmt: skip
        return envelope({"user_preferences": [item]}, field="user_preferences")

    post_webhook(preference("stop", 1731705721))
    post_webhook(preference("resume", 1731705821))
    reprocess_webhook_events(WebhookEvent.objects.values_list("pk", flat=True))  # replays record nothing
    contact = Contact.objects.get(wa_id=USER)
    rows = list(contact.consent_records.order_by("pk").values_list("purpose", "status", "source", "text"))
    assert rows == [
        ("marketing", "revoked", "user_preferences", "User requested to stop marketing messages"),
        ("marketing", "granted", "user_preferences", "User requested to resume marketing messages"),
    ]
    assert contact.opted_out is False
    assert [c["status"] for c in changes] == ["revoked", "granted"]


# -- sending -------------------------------------------------------------------------------------


def test_opted_out_contact_is_refused_with_the_reason_recorded(post_webhook, sandbox, account):
    user_writes(post_webhook, sandbox, "STOP")
    before = Message.objects.count()
    for attempt in (
        lambda: send_message(account, USER, "text", "Still there?"),
        lambda: send_template(account),
        lambda: send_message(account, USER, "text", "Sale!", purpose="marketing"),
    ):
        with pytest.raises(ContactOptedOut) as refused:
            attempt()
        assert isinstance(refused.value, ConsentRequired)
        assert (refused.value.purpose, refused.value.reason) == ("whatsapp_messaging", "revoked")
    assert Message.objects.count() == before
    entry = AuditEntry.objects.filter(action="message.refused").first()
    assert entry.changes == {"to": USER, "purpose": "whatsapp_messaging", "reason": "revoked"}
    assert (
        entry.object_type == "wacloud.Contact"
        and AuditEntry.objects.filter(action="message.refused").count() == 3
    )


def test_marketing_revoked_blocks_marketing_but_not_service_replies(post_webhook, sandbox, account):
    marketing_template()
    user_writes(post_webhook, sandbox, "hi")
    contact = Contact.objects.get(wa_id=USER)
    consent.record_consent(contact, "marketing", "revoked", source="user_preferences")
    with pytest.raises(ConsentRequired) as refused:
        send_template(account)  # a MARKETING template: purpose marketing, whatever was asked
    assert (refused.value.purpose, refused.value.reason) == ("marketing", "revoked")
    assert not isinstance(refused.value, ContactOptedOut)
    with pytest.raises(ConsentRequired):
        send_message(account, USER, "text", "Sale!", purpose="marketing")
    reply = send_message(account, USER, "text", "Your order shipped", enqueue=False)
    assert reply.status == "sent"
    consent.record_consent(contact, "marketing", "granted", source="api")
    assert send_template(account).status == "sent"


def test_marketing_opt_in_is_required_only_when_configured(sandbox, account, settings):
    marketing_template()
    assert send_template(account, to="15550002222").status == "sent"  # default: allowed until revoked
    settings.WACLOUD = {**settings.WACLOUD, "MARKETING_REQUIRES_OPT_IN": True}
    with pytest.raises(ConsentRequired) as refused:
        send_template(account, to="15550003333")
    assert (refused.value.purpose, refused.value.reason) == ("marketing", "opt_in_required")
    assert not Contact.objects.filter(wa_id="15550003333").exists()  # nothing stored
    Template.objects.update(category="UTILITY")
    assert send_template(account, to="15550003333").status == "sent"  # utility needs no opt-in
    Template.objects.update(category="MARKETING")
    contact = Contact.objects.get(wa_id="15550003333")
    consent.record_consent(contact, "marketing", "granted", source="import", text="Web form, box ticked")
    assert send_template(account, to="15550003333").status == "sent"


def test_unknown_purpose_is_refused(account):
    with pytest.raises(InvalidParameter, match="purpose"):
        send_message(account, USER, "text", "hi", purpose="marketting")


# -- REST ----------------------------------------------------------------------------------------


@pytest.fixture
def tenants(db):
    cache.clear()  # throttles count in the cache
    yield tenant_a(), tenant_b()
    cache.clear()


def test_api_grants_revokes_and_lists_the_history(client, sandbox, tenants):
    a, _ = tenants
    user = member(a.organization, "agent")
    api = Api(client, user)
    path = f"contacts/{a.contact.pk}/consent"
    response = api.post(path, {"purpose": "marketing", "status": "granted", "text": "Yes, send me offers"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["record"]["source"] == "api" and body["record"]["actor_label"] == user.username
    assert body["consent"] == {"whatsapp_messaging": None, "marketing": "granted"}
    assert api.post(path, {"purpose": "whatsapp_messaging", "status": "revoked"}).status_code == 201
    history = api.get(path).json()
    assert [(r["purpose"], r["status"]) for r in history["results"]] == [
        ("whatsapp_messaging", "revoked"),
        ("marketing", "granted"),
    ]
    assert history["count"] == 2 and history["consent"]["whatsapp_messaging"] == "revoked"
    assert [r["purpose"] for r in api.get(path, {"purpose": "marketing"}).json()["results"]] == ["marketing"]
    a.contact.refresh_from_db()
    assert a.contact.opted_out is True
    entry = AuditEntry.objects.filter(action="consent.revoke").get()
    assert (entry.actor, entry.source) == (user, "api")
    bad = api.post(path, {"purpose": "everything", "status": "granted"})
    assert bad.status_code == 400 and error_code(bad) == "VALIDATION_ERROR"
    viewer = Api(client, member(a.organization, "viewer"))
    assert error_code(viewer.post(path, {"purpose": "marketing", "status": "revoked"})) == "PERMISSION_DENIED"
    assert viewer.get(path).status_code == 200


def test_api_send_refused_for_consent(client, sandbox, tenants):
    a, _ = tenants
    sandbox.inject_inbound(**{"from": a.contact.wa_id}, type="text", text="hi")
    api = Api(client, member(a.organization, "marketer"))
    Template.objects.filter(pk=a.account_template.pk).update(category="MARKETING")
    consent.record_consent(a.contact, "marketing", "revoked", source="api")
    template = {"name": a.account_template.name, "language": {"code": "en_US"}}
    response = api.post("send", {"to": a.contact.wa_id, "type": "template", "content": template})
    assert response.status_code == 400 and error_code(response) == "CONSENT_REQUIRED"
    assert response.json()["details"] == {"purpose": "marketing", "reason": "revoked"}
    text = {"to": a.contact.wa_id, "type": "text", "content": {"body": "Your order shipped"}}
    assert api.post("send", text).status_code == 200  # a service reply still goes
    response = api.post("send", {**text, "purpose": "marketing"})
    assert response.status_code == 400 and error_code(response) == "CONSENT_REQUIRED"
    response = api.post("send", {**text, "purpose": "keyword_confirmation"})  # internal, not for callers
    assert response.status_code == 400 and error_code(response) == "VALIDATION_ERROR"
    api.call("PATCH", f"contacts/{a.contact.pk}", {"opted_out": True})
    assert a.contact.consent_records.first().source == "api"  # the PATCH is in the history too
    response = api.post("send", text)
    assert response.status_code == 400 and error_code(response) == "CONTACT_OPTED_OUT"
    assert response.json()["details"] == {"purpose": "whatsapp_messaging", "reason": "revoked"}


def test_another_organizations_contact_consent_is_404(client, tenants):
    a, b = tenants
    consent.record_consent(b.contact, "marketing", "granted", source="import", text="B's secret")
    api = Api(client, member(a.organization, "admin"))
    for method, body in (("GET", None), ("POST", {"purpose": "marketing", "status": "revoked"})):
        response = api.call(method, f"contacts/{b.contact.pk}/consent", body)
        assert response.status_code == 404 and error_code(response) == "NOT_FOUND"
        assert b"secret" not in response.content
    assert b.contact.consent_records.count() == 1
    assert not tenancy.scoped(ConsentRecord.objects.all(), a.organization).exists()
    assert tenancy.scoped(ConsentRecord.objects.all(), b.organization).count() == 1


# -- admin ---------------------------------------------------------------------------------------


def test_admin_records_opt_outs_and_shows_only_its_organizations_history(client, tenants):
    from django.contrib.auth.models import Permission
    from django.urls import reverse

    a, b = tenants
    consent.record_consent(b.contact, "marketing", "granted", source="import")
    staff = member(a.organization, "admin", username="staff-a", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="wacloud"))
    client.force_login(staff)
    changelist = reverse("admin:wacloud_contact_changelist")
    form = {"action": "record_contacts_opted_out", "_selected_action": [a.contact.pk, b.contact.pk]}
    assert client.post(changelist, form).status_code == 302
    a.contact.refresh_from_db()
    [record] = a.contact.consent_records.all()
    assert (record.status, record.source, record.actor) == ("revoked", "admin", staff)
    assert a.contact.opted_out is True and not b.contact.consent_records.filter(source="admin").exists()
    entry = AuditEntry.objects.get(action="consent.revoke")
    assert (entry.source, entry.actor) == ("admin", staff)
    history = client.get(reverse("admin:wacloud_consentrecord_changelist"))
    assert {row.pk for row in history.context["cl"].result_list} == {record.pk}
    page = client.get(reverse("admin:wacloud_consentrecord_change", args=[record.pk]))
    assert page.status_code == 200 and not page.context["has_change_permission"]
    assert client.get(reverse("admin:wacloud_consentrecord_add")).status_code == 403


@pytest.mark.serial
@pytest.mark.django_db(transaction=True)
def test_concurrent_records_leave_the_contact_as_the_latest_says(account):
    import threading
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    if connection.vendor != "postgresql":
        pytest.skip("about row locks: run with WACLOUD_TEST_DATABASE_URL (SQLite's threads lock the table)")
    contact = Contact.objects.create(account=account, wa_id=USER)
    start, workers = timezone.now(), 8
    barrier, failures = threading.Barrier(workers), []

    def work(index):
        try:
            barrier.wait(timeout=10)
            status = "revoked" if index % 2 else "granted"
            when = start + timedelta(seconds=workers - index)  # the first to start is the newest
            consent.record_consent(contact, "whatsapp_messaging", status, source="api", occurred_at=when)
        except Exception as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(index,)) for index in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert ConsentRecord.objects.count() == workers
    latest = consent.latest_record(contact, "whatsapp_messaging")
    assert latest.occurred_at == start + timedelta(seconds=workers) and latest.status == "granted"
    contact.refresh_from_db()
    assert contact.opted_out is False and contact.opted_in_at == latest.occurred_at


@pytest.mark.parametrize(
    ("override", "name"),
    [
        ({"CONSENT_KEYWORDS": {"stop": ["STOP"]}}, 'WACLOUD["CONSENT_KEYWORDS"]'),
        ({"CONSENT_KEYWORDS": {"revoke": {"en": "STOP"}}}, 'WACLOUD["CONSENT_KEYWORDS"]'),
        ({"CONSENT_KEYWORDS": ["STOP"]}, 'WACLOUD["CONSENT_KEYWORDS"]'),
        ({"CONSENT_CONFIRMATIONS": {"revoke": ["Bye"]}}, 'WACLOUD["CONSENT_CONFIRMATIONS"]'),
        ({"MARKETING_REQUIRES_OPT_IN": "yes"}, 'WACLOUD["MARKETING_REQUIRES_OPT_IN"]'),
    ],
)
def test_bad_consent_settings_fail_the_system_check(settings, override, name):
    from django.core.checks import run_checks

    settings.WACLOUD = {**settings.WACLOUD, **override}
    found = [message for message in run_checks() if message.id == "wacloud.E016"]
    assert len(found) == 1 and name in found[0].msg, found


def test_good_consent_settings_pass_the_system_check(settings):
    from django.core.checks import run_checks

    from wacloud_django.automation.services.consent_keywords import DEFAULT_KEYWORDS

    settings.WACLOUD = {
        **settings.WACLOUD,
        "CONSENT_KEYWORDS": {**DEFAULT_KEYWORDS, "revoke": {**DEFAULT_KEYWORDS["revoke"], "fr": ["ARRÊT"]}},
        "CONSENT_CONFIRMATIONS": {"revoke": "Bye.", "grant": {"en": None}},
        "MARKETING_REQUIRES_OPT_IN": True,
    }
    assert [message.id for message in run_checks() if message.id.startswith("wacloud.")] == []
    assert match_keyword("Arrêt") == ("revoke", "fr")
