"""The inbox's forms in a real browser: create a template (example fields appear as the body
is typed, Meta's refusal shows on its field, then the sandbox accepts it), and assign a
conversation to oneself, then find it under "Mine"."""

from __future__ import annotations

import pytest
from browser_support import CUSTOMER, log_in

pytestmark = pytest.mark.browser  # not in `make test`: .ci/run runs it


def test_create_a_template(tab, admin_user, inbox_site, live_sandbox, screenshots):
    from playwright.sync_api import expect

    page = tab
    log_in(page, inbox_site.url)
    page.get_by_role("link", name="Templates").click()
    page.get_by_role("link", name="New template").click()
    expect(page.get_by_role("heading", name="New template")).to_be_visible()

    page.get_by_label("Name").fill("order_ready")
    page.get_by_label("Category").select_option("UTILITY")
    page.get_by_label("Language").fill("en_US")
    page.get_by_label("Header").fill("Order update")
    # A variable at the start: Meta refuses it, and says so on the body.
    page.get_by_label("Body").fill("{{1}}, your order {{2}} is ready.")
    page.get_by_label("Example for {{1}}").fill("Maria")
    page.get_by_label("Example for {{2}}").fill("A-17")
    page.get_by_label("Footer").fill("Thank you for shopping with us")
    page.get_by_label("Button 1", exact=True).select_option("QUICK_REPLY")
    page.get_by_label("Button 1 text").fill("Thanks!")
    page.get_by_label("Button 2", exact=True).select_option("URL")
    page.get_by_label("Button 2 text").fill("Track it")
    page.get_by_label("Button 2 URL or phone number").fill("https://shop.example/track")
    expect(page.locator("#draft-preview")).to_contain_text("Maria, your order A-17 is ready.")
    page.get_by_role("button", name="Submit for review").click()
    body_field = page.locator(".field", has=page.get_by_label("Body"))
    expect(body_field.get_by_role("alert")).to_contain_text("start or end")
    page.screenshot(path=screenshots / "template-new.png", full_page=True)

    # Text before the first variable: accepted, and the example values were kept.
    page.get_by_label("Body").fill("Hi {{1}}, your order {{2}} is ready.")
    expect(page.get_by_label("Example for {{2}}")).to_have_value("A-17")
    expect(page.locator("#draft-preview")).to_contain_text("Hi Maria, your order A-17 is ready.")
    expect(page.locator("#draft-preview")).to_contain_text("Track it")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator(".flash")).to_contain_text("Template order_ready (en_US) sent to Meta")
    expect(page.get_by_role("heading", name="order_ready")).to_be_visible()
    [created] = [t for t in live_sandbox.templates() if t["name"] == "order_ready"]
    assert [c["type"] for c in created["components"]] == ["HEADER", "BODY", "FOOTER", "BUTTONS"]


def test_assign_a_conversation_to_oneself(tab, admin_user, inbox_site, live_sandbox, screenshots):
    from playwright.sync_api import expect

    page = tab
    log_in(page, inbox_site.url)
    live_sandbox.inject_inbound(**{"from": CUSTOMER}, name="Maria Silva", type="text", text="Who helps me?")
    page.locator("li.conversation", has_text="Maria Silva").get_by_role("link").click()
    page.get_by_role("button", name="Assign to me").click()
    expect(page.locator(".flash")).to_contain_text("Assigned to ana.")
    expect(page.get_by_label("Assignee")).to_have_value(str(admin_user.pk))
    page.screenshot(path=screenshots / "chat-assigned.png")
    page.get_by_role("link", name="← Conversations").click()
    page.get_by_label("Mine").check()
    expect(page.locator("li.conversation", has_text="Maria Silva")).to_contain_text("assigned to ana")
