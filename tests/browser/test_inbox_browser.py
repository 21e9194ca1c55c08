"""The inbox in a real browser: log in, watch an inbound message arrive live, reply and
watch its ticks go sent → delivered → read, send a template outside the window, add an
integration and test its connection, see the charts. Writes a screenshot of each page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from browser_support import CUSTOMER, log_in

pytestmark = pytest.mark.browser  # not in `make test`: .ci/run runs it


def test_live_chat_reply_ticks_and_template(tab, admin_user, inbox_site, live_sandbox, screenshots):
    from playwright.sync_api import expect

    from wacloud_django.models import Conversation

    page, base = tab, inbox_site.url
    log_in(page, base)
    expect(page.get_by_role("heading", name="Conversations")).to_be_visible()

    # A customer writes: the list shows it without a reload (the sandbox posts Meta's webhook).
    live_sandbox.inject_inbound(
        **{"from": CUSTOMER}, name="Maria Silva", type="text", text="Is my order ready?"
    )
    row = page.locator("li.conversation", has_text="Maria Silva")
    expect(row).to_contain_text("Is my order ready?")
    expect(row.locator(".badge")).to_have_text("1")
    page.screenshot(path=screenshots / "conversations.png")

    row.get_by_role("link").click()
    expect(page.get_by_role("heading", name="Maria Silva", level=1)).to_be_visible()
    expect(page.locator(".contact-panel")).to_contain_text("+55 11 98765-4321")
    # A second message arrives while the chat is open.
    live_sandbox.inject_inbound(
        **{"from": CUSTOMER}, name="Maria Silva", type="text", text="It was order A-17"
    )
    expect(page.locator("#thread")).to_contain_text("It was order A-17")

    page.get_by_role("textbox", name="Message").fill("Yes, it ships today.")
    page.get_by_role("button", name="Send", exact=True).click()
    reply = page.locator("article.message.outbound", has_text="Yes, it ships today.")
    ticks = reply.locator(".ticks")
    expect(ticks).to_have_attribute("title", re.compile("sent|delivered"))
    expect(ticks).to_have_attribute("title", "delivered")
    expect(ticks).to_have_attribute("title", "read")
    expect(page.get_by_role("textbox", name="Message")).to_have_value("")
    page.screenshot(path=screenshots / "chat.png")

    # Templates: register the default set (the sandbox approves them), then sync.
    page.get_by_role("link", name="Templates").click()
    seeded = len(live_sandbox.templates())  # approved from the start: no review, no webhook
    page.get_by_role("button", name=re.compile("Register default templates")).click()
    expect(page.locator(".flash")).to_contain_text("created")
    # Meta reviews each template a moment after it is created: sync once every review's
    # webhook has been delivered.
    created = len(live_sandbox.templates()) - seeded
    live_sandbox.wait_for_webhooks(count=created, kind="template", timeout=15)
    page.get_by_role("button", name=re.compile("^Sync")).click()
    expect(page.locator(".flash")).to_contain_text("Synced")
    expect(page.locator("table.list")).to_contain_text("APPROVED")
    page.screenshot(path=screenshots / "templates.png")

    # The 24 h window closes: only a template, previewed with the values typed, goes out.
    conversation = Conversation.objects.get(contact__wa_id=CUSTOMER)
    Conversation.objects.filter(pk=conversation.pk).update(
        service_window_expires_at=conversation.service_window_expires_at - timedelta(hours=25)
    )
    page.goto(f"{base}/inbox/c/{conversation.pk}/")
    expect(page.get_by_text("only an approved template can be sent")).to_be_visible()
    expect(page.get_by_role("textbox", name="Message")).to_have_count(0)
    page.get_by_label("Template").select_option(label="ticket_created (en_US)")
    # The preview starts with the template's example values, then follows what is typed.
    expect(page.locator("#template-preview")).to_contain_text("Hello Maria! Your ticket #1234 was created.")
    page.get_by_label("Value 1").fill("Maria Silva")
    page.get_by_label("Value 2").fill("4411")
    expect(page.locator("#template-preview")).to_contain_text(
        "Hello Maria Silva! Your ticket #4411 was created."
    )
    page.screenshot(path=screenshots / "template-outside-window.png")
    page.get_by_role("button", name="Send template").click()
    sent = page.locator("article.message.outbound.type-template", has_text="4411")
    expect(sent.locator(".ticks")).to_have_attribute("title", re.compile("sent|delivered|read"))
    [out] = [m for m in live_sandbox.sent_messages(to=CUSTOMER) if m["payload"]["type"] == "template"]
    assert out["payload"]["template"]["name"] == "ticket_created"

    # The analytics page counts this conversation: two messages in, two out.
    page.get_by_role("link", name="Analytics").click()
    expect(page.locator(".figure", has_text="received")).to_contain_text("2")
    expect(page.locator(".figure", has_text="sent")).to_contain_text("2")
    expect(page.get_by_role("img", name="Messages per day")).to_be_visible()
    page.screenshot(path=screenshots / "analytics.png", full_page=True)


def test_add_integration_test_connection_and_charts(tab, admin_user, inbox_site, screenshots):
    from playwright.sync_api import expect

    page, base = tab, inbox_site.url
    log_in(page, base)
    page.get_by_role("link", name="Integrations").click()
    section = page.locator("section.integration", has_text="Support line")
    section.get_by_role("button", name="Test connection").click()
    expect(page.locator(".flash")).to_contain_text("works")

    page.get_by_role("link", name="Add integration").click()
    page.get_by_label("Name").fill("Sales line")
    page.get_by_label("Phone number ID").fill("5550001")
    page.get_by_label("Access token").fill("EAAG-not-a-valid-token")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash")).to_contain_text("Added Sales line")
    added = page.locator("section.integration", has_text="Sales line")
    expect(added.get_by_label("Webhook URL")).to_have_value(re.compile(r"/whatsapp/webhook/5550001/$"))
    added.get_by_role("button", name="Show").click()
    expect(added.get_by_label("Verify token")).to_have_attribute("type", "text")
    added.get_by_role("button", name="Test connection").click()
    expect(page.locator(".flash")).to_contain_text("failed")
    page.screenshot(path=screenshots / "integrations.png")

    page.get_by_role("link", name="Analytics").click()
    expect(page.locator("svg.chart")).to_have_count(5)
    for title in ("Messages per day", "Delivery and read funnel", "Template performance"):
        expect(page.get_by_role("img", name=title)).to_be_visible()

    # A phone-sized screen: the chat's panel stacks under the thread, nothing overflows sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("link", name="Conversations").click()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    page.screenshot(path=screenshots / "conversations-phone.png")
