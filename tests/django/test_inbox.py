"""The web inbox (wacloud_django.inbox): every page for members, the roles of the REST API,
tenant isolation by URL, and the composer sending through the sandbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from api_support import member, tenant_a, tenant_b
from api_test_helpers import CUSTOMER, customer_writes
from django.utils import timezone

from wacloud_django.models import BusinessAccount, Conversation, Message, Template

pytestmark = pytest.mark.django_db
INBOX = "/inbox/"


@pytest.fixture
def tenants(sandbox):
    """Organizations A (the sandbox's account) and B, one of everything each."""
    return tenant_a(), tenant_b()


def login(client, organization, role):
    user = member(organization, role)
    client.force_login(user)
    return user


def pages_of(tenant) -> list[str]:
    """Every GET page that names one of the tenant's objects."""
    ids = {"c": tenant.conversation.pk, "t": tenant.account_template.pk, "a": tenant.account.pk}
    return [
        f"{INBOX}c/{ids['c']}/",
        f"{INBOX}c/{ids['c']}/thread/",
        f"{INBOX}c/{ids['c']}/template-preview/?template={ids['t']}",
        f"{INBOX}media/{tenant.media.pk}/",
        f"{INBOX}templates/{ids['t']}/",
        f"{INBOX}integrations/{ids['a']}/",
    ]


def actions_of(tenant) -> list[tuple[str, dict]]:
    """Every POST that names one of the tenant's objects."""
    c, a = tenant.conversation.pk, tenant.account.pk
    return [
        (f"{INBOX}c/{c}/send/", {"kind": "text", "body": "hello"}),
        (f"{INBOX}c/{c}/archive/", {"archived": "1"}),
        (f"{INBOX}c/{c}/typing/", {}),
        (f"{INBOX}templates/sync/", {"account": a}),
        (f"{INBOX}templates/register/", {"account": a}),
        (f"{INBOX}integrations/{a}/test/", {}),
        (f"{INBOX}integrations/{a}/toggle/", {}),
        (f"{INBOX}integrations/{a}/register/", {}),
        (f"{INBOX}integrations/{a}/", {"phone_number_id": "5550001", "name": "taken"}),
    ]


# -- login and pages -----------------------------------------------------------------------------


def test_pages_need_a_login(client, tenants):
    a, _ = tenants
    for path in [INBOX, f"{INBOX}templates/", f"{INBOX}analytics/", f"{INBOX}integrations/", *pages_of(a)]:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith(f"{INBOX}login/?next="), path


def test_login_page_logs_in_and_goes_to_the_inbox(client, tenants):
    a, _ = tenants
    user = member(a.organization, "agent")
    user.set_password("s3cret-pass")
    user.save()
    assert client.get(f"{INBOX}login/").status_code == 200
    fields = {"username": user.username, "password": "s3cret-pass", "next": INBOX}
    response = client.post(f"{INBOX}login/?next={INBOX}", fields)
    assert response.status_code == 302 and response["Location"] == INBOX
    page = client.get(INBOX)
    assert page.status_code == 200 and b"org-a contact" in page.content
    client.logout()
    direct = client.post(f"{INBOX}login/", {"username": user.username, "password": "s3cret-pass"})
    assert direct.status_code == 302 and direct["Location"] == INBOX
    client.logout()
    wrong = client.post(f"{INBOX}login/", {"username": user.username, "password": "nope"})
    assert wrong.status_code == 200 and b"did not match" in wrong.content


def test_every_page_renders_for_an_admin(client, tenants):
    a, _ = tenants
    login(client, a.organization, "admin")
    listing = client.get(INBOX).content.decode()
    assert "org-a contact" in listing and "org-b contact" not in listing
    assert "org-a hello" in listing or "org-a reply" in listing  # the last message
    assert 'aria-label="2 unread"' in listing
    for path in [INBOX, f"{INBOX}templates/", f"{INBOX}analytics/", f"{INBOX}integrations/",
                 f"{INBOX}integrations/new/", *pages_of(a)]:  # fmt: skip
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
    chat = client.get(f"{INBOX}c/{a.conversation.pk}/").content.decode()
    assert "org-a hello" in chat and "org-a reply" in chat
    assert "+972 50-000-0001" in chat  # the number in display format
    assert "org-a ticket" in chat and "org-a" in chat  # ticket and tag in the contact panel


def test_a_viewer_reads_every_page_but_integrations(client, tenants):
    a, _ = tenants
    login(client, a.organization, "viewer")
    for path in [INBOX, f"{INBOX}templates/", f"{INBOX}analytics/", *pages_of(a)[:5]]:
        assert client.get(path).status_code == 200, path
    assert client.get(f"{INBOX}integrations/").status_code == 403
    assert client.get(f"{INBOX}integrations/{a.account.pk}/").status_code == 403
    chat = client.get(f"{INBOX}c/{a.conversation.pk}/").content.decode()
    assert "not reply" in chat and 'name="body"' not in chat
    # A viewer's visit does not read the conversation for the agents.
    assert Conversation.objects.get(pk=a.conversation.pk).unread_count == 2


def test_a_user_without_membership_is_refused(client, tenants, django_user_model):
    client.force_login(django_user_model.objects.create_user("stranger"))
    assert client.get(INBOX).status_code == 403


# -- roles ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role, allowed",
    [("viewer", set()), ("agent", {"text", "archive"}), ("marketer", {"text", "archive", "template"})],
)
def test_roles_decide_what_the_composer_may_do(client, tenants, role, allowed):
    a, _ = tenants
    login(client, a.organization, role)
    c = a.conversation.pk
    posts = {
        "text": (f"{INBOX}c/{c}/send/", {"kind": "text", "body": "hi"}),
        "template": (f"{INBOX}c/{c}/send/", {"kind": "template", "template": a.account_template.pk}),
        "archive": (f"{INBOX}c/{c}/archive/", {"archived": "1"}),
    }
    for name, (path, data) in posts.items():
        status = client.post(path, data).status_code
        if name in allowed:
            assert status == 302, (role, name, status)
        else:
            assert status == 403, (role, name, status)
    if "text" not in allowed:
        assert not Message.objects.filter(conversation=a.conversation, text="hi").exists()


def test_only_admins_manage_integrations_and_marketers_templates(client, tenants):
    a, _ = tenants
    login(client, a.organization, "agent")
    for path, data in actions_of(a)[3:]:
        assert client.post(path, data).status_code == 403, path
    login(client, a.organization, "marketer")
    assert client.post(f"{INBOX}templates/sync/", {"account": a.account.pk}).status_code == 302
    assert client.post(f"{INBOX}integrations/{a.account.pk}/toggle/").status_code == 403
    assert BusinessAccount.objects.get(pk=a.account.pk).is_active


# -- tenant isolation ----------------------------------------------------------------------------


def test_another_organizations_objects_are_404_on_every_page_and_action(client, tenants):
    a, b = tenants
    login(client, a.organization, "admin")
    for path in pages_of(b):
        assert client.get(path).status_code == 404, path
    for path, data in actions_of(b):
        assert client.post(path, data).status_code == 404, path
    b_account = BusinessAccount.objects.get(pk=b.account.pk)
    assert b_account.is_active and b_account.name == "org-b account"
    assert Conversation.objects.get(pk=b.conversation.pk).status == "open"
    assert not Message.objects.filter(account=b.account, direction="outbound", text="hello").exists()
    # Naming B's organization is not possible for a member of A only.
    assert client.get(f"{INBOX}?organization=org-b").status_code == 404


def test_a_member_of_both_switches_organization(client, tenants):
    a, b = tenants
    user = login(client, a.organization, "admin")
    member(b.organization, "viewer", user.username)
    assert b"org-a contact" in client.get(f"{INBOX}?organization=org-a").content
    page = client.get(f"{INBOX}?organization=org-b")
    assert b"org-b contact" in page.content and b"org-a contact" not in page.content
    # Remembered, and the role is B's: a viewer there.
    assert client.get(f"{INBOX}c/{b.conversation.pk}/").status_code == 200
    assert (
        client.post(f"{INBOX}c/{b.conversation.pk}/send/", {"kind": "text", "body": "x"}).status_code == 403
    )


# -- the conversation list -----------------------------------------------------------------------


def test_list_filters_and_search(client, tenants):
    from wacloud_django.automation.models import Escalation

    a, _ = tenants
    user = login(client, a.organization, "agent")
    contact = a.account.contacts.create(wa_id="972500000099", name="Quiet Person")
    quiet = Conversation.objects.create(account=a.account, contact=contact, last_message_at=timezone.now())
    Escalation.objects.create(organization=a.organization, conversation=a.conversation, assigned_to=user)

    def names(query: str) -> str:
        return client.get(f"{INBOX}?{query}").content.decode()

    assert "Quiet Person" in names("") and "org-a contact" in names("")
    assert "Quiet Person" not in names("unread=1") and "org-a contact" in names("unread=1")
    assert "Quiet Person" not in names("escalated=1") and "Escalated" in names("escalated=1")
    assert "org-a contact" in names("mine=1") and "Quiet Person" not in names("mine=1")
    assert "Quiet Person" in names("q=quiet") and "org-a contact" not in names("q=quiet")
    assert "Quiet Person" in names("q=%2B972+50-000-0099")  # a number as people write it
    assert "Quiet Person" not in names("account=000")
    # htmx asks for the rows alone (search as one types, the 3-second refresh).
    partial = client.get(f"{INBOX}?q=quiet", HTTP_HX_REQUEST="true").content.decode()
    assert "Quiet Person" in partial and "<html" not in partial
    # Archive: gone from the list, found under Archived.
    assert client.post(f"{INBOX}c/{quiet.pk}/archive/", {"archived": "1"}).status_code == 302
    assert Conversation.objects.get(pk=quiet.pk).status == "closed"
    assert "Quiet Person" not in names("") and "Quiet Person" in names("archived=1")


def test_window_time_left_is_shown(client, tenants):
    a, _ = tenants
    login(client, a.organization, "viewer")
    assert "window open, 22 h" in client.get(INBOX).content.decode()
    with time_machine.travel(timezone.now() + timedelta(hours=24)):
        assert "window closed: templates only" in client.get(INBOX).content.decode()


# -- the chat and the composer -------------------------------------------------------------------


def test_opening_a_chat_marks_it_read_at_meta(client, sandbox, account, post_webhook):
    wamid = customer_writes(sandbox, post_webhook, "where is my order?")
    conversation = Conversation.objects.get(contact__wa_id=CUSTOMER)
    assert conversation.unread_count == 1
    login(client, account.organization, "agent")
    page = client.get(f"{INBOX}c/{conversation.pk}/").content.decode()
    assert "where is my order?" in page and "Read receipt not sent" not in page
    assert Conversation.objects.get(pk=conversation.pk).unread_count == 0
    [received] = [m for m in sandbox.inbound_messages() if m["id"] == wamid]
    assert received["read"] is True


def test_typing_in_the_composer_sends_the_typing_indicator(client, sandbox, account, post_webhook):
    wamid = customer_writes(sandbox, post_webhook, "hello?")
    conversation = Conversation.objects.get(contact__wa_id=CUSTOMER)
    login(client, account.organization, "viewer")
    assert client.post(f"{INBOX}c/{conversation.pk}/typing/").status_code == 403
    login(client, account.organization, "agent")
    assert client.post(f"{INBOX}c/{conversation.pk}/typing/").status_code == 204
    # Meta's typing indicator travels with a read receipt of the newest inbound message.
    [received] = [m for m in sandbox.inbound_messages() if m["id"] == wamid]
    assert received["read"] is True
    before = sandbox.graph_requests()
    assert before > 0
    with time_machine.travel(timezone.now() + timedelta(hours=25)):  # window closed: nothing to show
        assert client.post(f"{INBOX}c/{conversation.pk}/typing/").status_code == 204
    assert sandbox.graph_requests() == before


def test_composer_sends_text_through_the_sandbox(client, sandbox, account, post_webhook):
    wamid = customer_writes(sandbox, post_webhook, "hi there")
    conversation = Conversation.objects.get(contact__wa_id=CUSTOMER)
    login(client, account.organization, "agent")
    response = client.post(f"{INBOX}c/{conversation.pk}/send/",
                           {"kind": "text", "body": "Hello from the inbox", "reply_to": wamid},
                           HTTP_HX_REQUEST="true")  # fmt: skip
    assert response.status_code == 200
    html = response.content.decode()
    assert "Hello from the inbox" in html and 'class="error"' not in html
    message = Message.objects.get(conversation=conversation, direction="outbound")
    assert message.status == "sent" and message.wamid and message.reply_to.wamid == wamid
    [sent] = [m for m in sandbox.sent_messages(to=CUSTOMER) if m["id"] == message.wamid]
    assert sent["payload"]["text"]["body"] == "Hello from the inbox"
    assert sent["payload"]["context"]["message_id"] == wamid
    assert "↪ hi there" in html  # the reply shows what it answers


def test_composer_sends_media(client, sandbox, account, post_webhook):
    from api_support import PNG
    from django.core.files.uploadedfile import SimpleUploadedFile

    customer_writes(sandbox, post_webhook)
    conversation = Conversation.objects.get(contact__wa_id=CUSTOMER)
    login(client, account.organization, "agent")
    upload = SimpleUploadedFile("dot.png", PNG, content_type="image/png")
    response = client.post(
        f"{INBOX}c/{conversation.pk}/send/", {"kind": "media", "file": upload, "caption": "a dot"}
    )
    assert response.status_code == 302
    message = Message.objects.get(conversation=conversation, direction="outbound")
    assert message.type == "image" and message.status == "sent", message.error_message
    [sent] = [m for m in sandbox.sent_messages(to=CUSTOMER) if m["id"] == message.wamid]
    assert sent["payload"]["image"]["caption"] == "a dot"


def test_empty_text_is_refused_with_a_message(client, sandbox, account, post_webhook):
    customer_writes(sandbox, post_webhook)
    conversation = Conversation.objects.get(contact__wa_id=CUSTOMER)
    login(client, account.organization, "agent")
    html = client.post(f"{INBOX}c/{conversation.pk}/send/", {"kind": "text", "body": "  "},
                       HTTP_HX_REQUEST="true").content.decode()  # fmt: skip
    assert "Type a message first." in html
    assert not Message.objects.filter(direction="outbound").exists()


def test_outside_the_window_only_a_template_goes_out(client, sandbox, account, post_webhook):
    from wacloud_django.services.clients import client_for

    customer_writes(sandbox, post_webhook)
    conversation = Conversation.objects.get(contact__wa_id=CUSTOMER)
    body = {"type": "BODY", "text": "Hello {{1}}, your order {{2}} shipped.",
            "example": {"body_text": [["John", "A-1"]]}}  # fmt: skip
    client_for(account).create_template("order_shipped", "en_US", "UTILITY", [body])
    sandbox.set_template_status("order_shipped", "APPROVED", language="en_US")
    template = Template.objects.create(account=account, waba_id=account.waba_id, name="order_shipped",
                                       language="en_US", status="APPROVED", category="UTILITY",
                                       components=[body])  # fmt: skip
    login(client, account.organization, "marketer")
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        page = client.get(f"{INBOX}c/{conversation.pk}/").content.decode()
        assert "only an approved template can be sent" in page and 'name="body"' not in page
        refused = client.post(f"{INBOX}c/{conversation.pk}/send/", {"kind": "text", "body": "late"},
                              HTTP_HX_REQUEST="true").content.decode()  # fmt: skip
        assert "window" in refused.lower() and 'class="error"' in refused
        assert not Message.objects.filter(direction="outbound", text="late").exists()
        preview = client.get(f"{INBOX}c/{conversation.pk}/template-preview/",
                             {"template": template.pk, "value_1": "Ana"}).content.decode()  # fmt: skip
        assert "Hello Ana, your order {{2}} shipped." in preview
        example = client.get(f"{INBOX}c/{conversation.pk}/template-preview/", {"template": template.pk})
        assert "Hello John, your order A-1 shipped." in example.content.decode()
        sent = client.post(f"{INBOX}c/{conversation.pk}/send/",
                           {"kind": "template", "template": template.pk, "value_1": "Ana", "value_2": "B-7"},
                           HTTP_HX_REQUEST="true").content.decode()  # fmt: skip
    assert "Hello Ana, your order B-7 shipped." in sent  # the template shown as its text
    message = Message.objects.get(direction="outbound", type="template")
    assert message.status == "sent"
    [out] = [m for m in sandbox.sent_messages(to=CUSTOMER) if m["id"] == message.wamid]
    assert [p["text"] for p in out["payload"]["template"]["components"][0]["parameters"]] == ["Ana", "B-7"]


def test_statuses_show_as_ticks_and_failures_with_their_error(client, tenants):
    a, _ = tenants
    login(client, a.organization, "viewer")
    Message.objects.filter(pk=a.outbound.pk).update(status="read")
    failed = Message.objects.create(account=a.account, conversation=a.conversation, contact=a.contact,
                                    direction="outbound", type="text", text="lost", status="failed",
                                    error_code=131026, error_message="Message undeliverable")  # fmt: skip
    html = client.get(f"{INBOX}c/{a.conversation.pk}/thread/").content.decode()
    assert 'class="ticks status-read" title="read"' in html
    assert f'id="message-{failed.pk}"' in html and "Not delivered (131026): Message undeliverable" in html


def test_every_message_type_renders(client, tenants):
    a, _ = tenants
    login(client, a.organization, "viewer")
    common = {"account": a.account, "conversation": a.conversation, "contact": a.contact}
    common.update(direction="inbound", status="received")
    place = {"latitude": 32.07, "longitude": 34.78, "name": "Office", "address": "1 Main St"}
    Message.objects.create(**common, type="location", content={"location": place})
    Message.objects.create(**common, type="contacts",
                           content={"contacts": [{"name": {"formatted_name": "Dana Cohen"},
                                                  "phones": [{"phone": "+972 50 111 2222"}]}]})  # fmt: skip
    Message.objects.create(**common, type="reaction", text="👍", reply_to=a.outbound)
    Message.objects.create(**common, type="interactive", text="Yes, confirm")
    Message.objects.create(**common, type="image", text="my receipt").media.add(a.media, bulk=False)
    html = client.get(f"{INBOX}c/{a.conversation.pk}/thread/").content.decode()
    assert "Office" in html and "1 Main St" in html
    assert "Dana Cohen" in html and "+972 50 111 2222" in html
    assert "Reacted 👍" in html and "org-a reply" in html
    assert "🔘 Yes, confirm" in html
    assert f'src="{INBOX}media/{a.media.pk}/"' in html and "my receipt" in html
    image = client.get(f"{INBOX}media/{a.media.pk}/")
    assert image.status_code == 200 and image["Content-Type"] == "image/png"


# -- templates, integrations, analytics -----------------------------------------------------------


def test_template_page_previews_with_example_values(client, tenants):
    a, _ = tenants
    Template.objects.filter(pk=a.account_template.pk).update(
        components=[{"type": "BODY", "text": "Hi {{1}}", "example": {"body_text": [["Maria"]]}}]
    )
    login(client, a.organization, "viewer")
    assert "Hi Maria" in client.get(f"{INBOX}templates/{a.account_template.pk}/").content.decode()
    assert "Hi Joe" in client.get(f"{INBOX}templates/{a.account_template.pk}/?value_1=Joe").content.decode()
    listing = client.get(f"{INBOX}templates/").content.decode()
    assert "org_a_welcome" in listing and "org_b_welcome" not in listing
    assert "Register default templates" not in listing  # a viewer sees no management buttons


def test_register_default_templates_and_sync(client, tenants, sandbox):
    a, _ = tenants
    login(client, a.organization, "marketer")
    response = client.post(f"{INBOX}templates/register/", {"account": a.account.pk}, follow=True)
    text = response.content.decode()
    assert "created" in text and "0 failed" in text
    assert len(sandbox.templates()) > 0
    synced = client.post(f"{INBOX}templates/sync/", {"account": a.account.pk}, follow=True).content.decode()
    assert "Synced" in synced


def test_add_integration_test_toggle(client, tenants, sandbox):
    a, _ = tenants
    login(client, a.organization, "admin")
    invalid = client.post(f"{INBOX}integrations/new/", {"phone_number_id": "not-a-number"})
    assert invalid.status_code == 200 and b'role="alert"' in invalid.content
    taken = client.post(f"{INBOX}integrations/new/", {"phone_number_id": a.account.phone_number_id,
                                                      "access_token": "EAAG-x"})  # fmt: skip
    assert b"already an integration" in taken.content
    created = client.post(f"{INBOX}integrations/new/", {"name": "Second", "phone_number_id": "5550001",
                                                        "access_token": "EAAG-y"}, follow=True)  # fmt: skip
    account = BusinessAccount.objects.get(phone_number_id="5550001")
    assert account.organization == a.organization and account.verify_token
    page = created.content.decode()
    assert "/whatsapp/webhook/5550001" in page and account.verify_token in page
    tested = client.post(f"{INBOX}integrations/{a.account.pk}/test/", follow=True).content.decode()
    assert "works" in tested
    failing = client.post(f"{INBOX}integrations/{account.pk}/test/", follow=True).content.decode()
    assert "failed" in failing
    client.post(f"{INBOX}integrations/{account.pk}/toggle/")
    assert not BusinessAccount.objects.get(pk=account.pk).is_active
    edited = client.post(
        f"{INBOX}integrations/{account.pk}/", {"name": "Renamed", "phone_number_id": "5550001"}
    )
    assert edited.status_code == 302
    account.refresh_from_db()
    assert (
        account.name == "Renamed" and account.access_token == "EAAG-y"
    )  # an empty secret keeps the stored one


def test_analytics_charts_and_range(client, tenants):
    a, _ = tenants
    login(client, a.organization, "viewer")
    html = client.get(f"{INBOX}analytics/").content.decode()
    for title in ("Messages per day", "Delivery and read funnel", "Response times", "New contacts per day",
                  "Template performance"):  # fmt: skip
        assert f'aria-label="{title}' in html, title
    assert "Inbound: total 1" in html and "Outbound: total 1" in html  # org A's rows only
    bad = client.get(f"{INBOX}analytics/?start=2026-05-01&end=2026-01-01").content.decode()
    assert "on or before the end" in bad
