"""Live updates in a real browser, over the inbox's WebSocket: with polling set to once an
hour, a customer's message appears in the open chat and in the conversation list, and a
reply's ticks change, without a reload. No event goes unshown: one pushed before the page's
socket opened, one arriving while a refresh is in flight, or while htmx settles a swapped-in
thread. Without a socket the pages fall back to polling."""

from __future__ import annotations

import json
import re
import time

import pytest
from browser_support import CUSTOMER, log_in

pytestmark = pytest.mark.browser  # not in `make test`: .ci/run runs it
HOUR = 3600


def socket_events(page) -> list[dict]:
    """Every JSON event the page's socket receives, as the browser saw it."""
    events: list[dict] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: events.append(json.loads(frame))))
    return events


def live_page(context, url: str):
    """A page opened at ``url`` once its socket is open (polling paused), marked so that a
    reload would show: the mark lives in the window, a reload drops it."""
    from playwright.sync_api import expect

    page = context.new_page()
    events = socket_events(page)
    page.goto(url)
    expect(page.locator("body")).to_have_attribute("data-live", "open")
    page.evaluate("window.notReloaded = true")
    return page, events


def test_pushes_update_the_chat_and_the_list_without_polling(
    browser_context, admin_user, inbox_site, live_sandbox, settings
):
    from playwright.sync_api import expect

    from wacloud_django.models import Conversation

    # Polling could not refresh anything within this test: only the socket can.
    settings.WACLOUD = {**settings.WACLOUD, "INBOX_POLL_SECONDS": HOUR}
    base = inbox_site.url
    login = browser_context.new_page()
    log_in(login, base)
    login.close()
    listing, list_events = live_page(browser_context, f"{base}/inbox/")
    assert f"every {HOUR}s" in listing.locator("#conversation-rows").get_attribute("hx-trigger")

    live_sandbox.inject_inbound(**{"from": CUSTOMER}, name="Maria Silva", type="text", text="Hello there")
    row = listing.locator("li.conversation", has_text="Maria Silva")
    expect(row).to_contain_text("Hello there")
    expect(row.locator(".badge")).to_have_text("1")
    conversation = Conversation.objects.get(contact__wa_id=CUSTOMER)
    pushed = {"event": "message", "conversation": conversation.pk, "direction": "inbound"}
    assert any(pushed.items() <= event.items() for event in list_events), list_events

    # The chat open in a second tab, the list still open in the first.
    chat, chat_events = live_page(browser_context, f"{base}/inbox/c/{conversation.pk}/")
    live_sandbox.inject_inbound(**{"from": CUSTOMER}, name="Maria Silva", type="text", text="Order A-17")
    expect(chat.locator("#thread")).to_contain_text("Order A-17")
    expect(row).to_contain_text("Order A-17")

    # A reply's ticks: Meta's delivered and read statuses reach the open chat by the socket.
    chat.get_by_role("textbox", name="Message").fill("On its way.")
    chat.get_by_role("button", name="Send", exact=True).click()
    ticks = chat.locator("article.message.outbound", has_text="On its way.").locator(".ticks")
    expect(ticks).to_have_attribute("title", "delivered")
    expect(ticks).to_have_attribute("title", "read")
    expect(row).to_contain_text("You: On its way.")
    statuses = [event["status"] for event in chat_events if event["event"] == "status"]
    assert statuses[-1] == "read" and "delivered" in statuses, chat_events

    for page in (listing, chat):
        assert page.evaluate("window.notReloaded") is True


# Holds back every WebSocket the page opens until window.openSockets() is called.
GATED_SOCKETS = """
(() => {
  const RealSocket = window.WebSocket;
  let open;
  const gate = new Promise((resolve) => { open = resolve; });
  window.openSockets = () => open();
  window.WebSocket = function (url) {
    const socket = {};
    gate.then(() => {
      const real = new RealSocket(url);
      for (const name of ["onopen", "onmessage", "onclose"]) {
        real[name] = (event) => socket[name] && socket[name](event);
      }
    });
    return socket;
  };
})();
"""


def test_a_message_stored_while_the_page_connects_is_shown(
    tab, admin_user, inbox_site, live_sandbox, settings
):
    """The list is rendered, a message arrives and is pushed before the page's socket is open
    (nobody hears it), then the socket opens: the page catches up without polling or reloading."""
    from playwright.sync_api import expect

    from wacloud_django.models import Message

    settings.WACLOUD = {**settings.WACLOUD, "INBOX_POLL_SECONDS": HOUR}
    tab.add_init_script(GATED_SOCKETS)
    log_in(tab, inbox_site.url)
    tab.evaluate("window.notReloaded = true")
    live_sandbox.inject_inbound(**{"from": CUSTOMER}, name="Maria Silva", type="text", text="Still there?")
    live_sandbox.wait_for_webhooks(kind="message", timeout=15)
    assert [message.text for message in Message.objects.all()] == ["Still there?"]
    row = tab.locator("li.conversation", has_text="Maria Silva")
    expect(row).to_have_count(0)

    tab.evaluate("window.openSockets()")
    expect(tab.locator("body")).to_have_attribute("data-live", "open")
    expect(row).to_contain_text("Still there?")
    assert tab.evaluate("window.notReloaded") is True


# window.messageEvents: the live "message" events the page has received; window.swaps: htmx's swaps.
COUNT_MESSAGE_EVENTS = """window.messageEvents = 0;
document.addEventListener("wacloud:live", (e) => {
  if (e.detail.event === "message") window.messageEvents += 1;
});
"""
COUNT_SWAPS = """window.swaps = 0;
document.addEventListener("htmx:afterSwap", () => { window.swaps += 1; });
"""


def wait_until(check, what: str) -> None:
    """Asks ``check()`` again and again (each Playwright call in it lets the page's events reach
    the test) until it is true; fails with ``what`` after 15 s."""
    deadline = time.monotonic() + 15
    while not check():
        assert time.monotonic() < deadline, f"never happened: {what}"


def a_conversation_polled_hourly(browser_context, inbox_site, live_sandbox, settings):
    """Polling set to once an hour, Ana logged in, and Maria's conversation holding "First"."""
    from wacloud_django.models import Conversation

    settings.WACLOUD = {**settings.WACLOUD, "INBOX_POLL_SECONDS": HOUR}
    login = browser_context.new_page()
    log_in(login, inbox_site.url)
    login.close()
    live_sandbox.inject_inbound(**{"from": CUSTOMER}, name="Maria Silva", type="text", text="First")
    live_sandbox.wait_for_webhooks(kind="message", timeout=15)
    return Conversation.objects.get(contact__wa_id=CUSTOMER)


def test_an_event_during_a_refresh_in_flight_is_shown(
    browser_context, admin_user, inbox_site, live_sandbox, settings
):
    """The chat's refresh for one message is still on its way when the next message's event
    arrives: the page shows both once the answers are in."""
    from playwright.sync_api import expect

    conversation = a_conversation_polled_hourly(browser_context, inbox_site, live_sandbox, settings)

    held = []  # once armed, the next thread refresh: answered by the server now, handed over later
    armed = False

    def hold_one(route):
        if armed and not held:
            held.append((route, route.fetch()))
        else:
            route.continue_()

    chat = browser_context.new_page()
    chat.route(re.compile(r"/thread/"), hold_one)
    with chat.expect_response(re.compile(r"/thread/")):  # the catch-up as the socket opens
        chat.goto(f"{inbox_site.url}/inbox/c/{conversation.pk}/")
    expect(chat.locator("body")).to_have_attribute("data-live", "open")
    thread = chat.locator("#thread")
    expect(thread).not_to_have_class(re.compile("htmx-request"))
    chat.evaluate(COUNT_MESSAGE_EVENTS)

    armed = True
    live_sandbox.inject_inbound(**{"from": CUSTOMER}, name="Maria Silva", type="text", text="Second")
    chat.wait_for_function("window.messageEvents >= 1")
    # Each evaluate lets Playwright hand the refresh's request to hold_one.
    wait_until(lambda: chat.evaluate("0") == 0 and held, "a refresh after the message's event")
    live_sandbox.inject_inbound(**{"from": CUSTOMER}, name="Maria Silva", type="text", text="Third")
    chat.wait_for_function("window.messageEvents >= 2")  # arrived while the first refresh is held
    route, answer = held[0]
    try:
        route.fulfill(response=answer)
    except Exception:  # the page gave that request up for the newer one
        pass
    expect(thread).to_contain_text("Second")
    expect(thread).to_contain_text("Third")


def test_an_event_while_a_refresh_settles_is_caught_up(
    browser_context, admin_user, inbox_site, live_sandbox, settings
):
    """htmx makes a swapped-in thread listen only once it has settled it: an event that comes in
    between is followed by one catch-up. The page's clock is paused, so the settle waits."""
    from playwright.sync_api import expect

    conversation = a_conversation_polled_hourly(browser_context, inbox_site, live_sandbox, settings)

    chat = browser_context.new_page()
    chat.add_init_script(COUNT_MESSAGE_EVENTS + COUNT_SWAPS)
    chat.clock.install()
    chat.clock.pause_at(time.time() + 1)  # no page timer fires until run_for below
    chat.goto(f"{inbox_site.url}/inbox/c/{conversation.pk}/")
    expect(chat.locator("body")).to_have_attribute("data-live", "open")

    def page_says(condition: str):  # asked of the page without its timers, which are paused
        return lambda: chat.evaluate(condition)

    # The catch-up as the socket opened: swapped in, not settled.
    wait_until(page_says("window.swaps >= 1"), "the catch-up's swap")
    live_sandbox.inject_inbound(**{"from": CUSTOMER}, name="Maria Silva", type="text", text="Second")
    wait_until(page_says("window.messageEvents >= 1"), "the message's event")
    thread = chat.locator("#thread")
    expect(thread).not_to_contain_text("Second")
    chat.clock.run_for(1000)  # the settle
    expect(thread).to_contain_text("Second")
    assert re.search(r"First.*Second", thread.inner_text(), re.S)


def test_without_a_socket_the_pages_poll(tab, admin_user, inbox_site, live_sandbox, settings):
    from playwright.sync_api import expect

    settings.WACLOUD = {**settings.WACLOUD, "INBOX_LIVE_URL": None, "INBOX_POLL_SECONDS": 1}
    log_in(tab, inbox_site.url)
    events = socket_events(tab)
    tab.evaluate("window.notReloaded = true")
    live_sandbox.inject_inbound(**{"from": CUSTOMER}, name="Maria Silva", type="text", text="Anyone there?")
    expect(tab.locator("li.conversation", has_text="Maria Silva")).to_contain_text("Anyone there?")
    assert tab.locator("body").get_attribute("data-live") is None
    assert events == [] and tab.evaluate("window.notReloaded") is True
