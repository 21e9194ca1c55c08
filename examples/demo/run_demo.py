#!/usr/bin/env python
"""``make demo``: wacloud end to end on this machine, with no Meta account.

1. a fresh SQLite database for the demo project (examples/demo/var/), migrated;
2. the Cloud API sandbox (Meta's stand-in) and the project's Django server, on loopback;
3. a business account registered against the sandbox (``setup_whatsapp_account``);
4. a customer writes in (the sandbox's control API), the message arrives by a signed webhook;
5. we reply with a text, a template and an image, and wait for the sent, delivered and
   read statuses to come back through signed webhooks;
6. the conversation and the monitor report are printed.

``--serve`` then keeps both servers running and prints the web inbox's and the admin's URLs
and a login.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import time
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("WACLOUD_DEMO_VAR_DIR", DEMO_DIR / "var"))
CUSTOMER = "15550001234"
PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"
ACCESS_TOKEN = "demo-access-token"
APP_SECRET = "demo-app-secret"
VERIFY_TOKEN = "demo-verify-token"


def say(text: str = "") -> None:
    print(text, flush=True)


def step(number: int, text: str) -> None:
    say(f"\n[{number}] {text}")


class Indented:
    """A stream for call_command that indents the command's output under the step."""

    def write(self, text: str) -> None:
        sys.stdout.write("".join(f"    {line}" if line.strip() else line for line in text.splitlines(True)))

    def flush(self) -> None:
        sys.stdout.flush()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(what: str, check: Callable[[], object], timeout: float = 20.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def png(width: int = 64, height: int = 64) -> bytes:
    """A real PNG (a green square with a darker border), built with zlib alone."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    dark, light = bytes((0, 120, 60)), bytes((37, 211, 102))
    rows = []
    for y in range(height):
        edge_row = y < 4 or y >= height - 4
        pixels = (dark if edge_row or x < 4 or x >= width - 4 else light for x in range(width))
        rows.append(b"\x00" + b"".join(pixels))  # each row starts with filter type 0
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    image = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + image


def start_server(port: int, env: dict[str, str]) -> subprocess.Popen:
    """The project under uvicorn (ASGI): its pages, and the inbox's WebSocket pushing each change."""
    log = open(VAR_DIR / "server.log", "wb")
    options = ["--host", "127.0.0.1", "--port", str(port), "--ws", "wsproto", "--lifespan", "off"]
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "demo_project.asgi:application", *options, "--no-access-log"],
        cwd=DEMO_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def server_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def print_conversation(conversation) -> None:
    from wacloud_django.models import Message

    say(f"    Conversation with {conversation.contact} ({conversation.status}, window open: "
        f"{conversation.is_window_open()})")  # fmt: skip
    for message in conversation.messages.order_by("timestamp", "pk"):
        arrow = "<- in " if message.direction == Message.Direction.INBOUND else "-> out"
        times = [
            f"{name} {getattr(message, name + '_at'):%H:%M:%S}"
            for name in ("sent", "delivered", "read")
            if getattr(message, name + "_at")
        ]
        say(f"    {arrow} {message.type:<8} {message.text[:48]!r:<50} [{message.status}] {', '.join(times)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help="keep the servers running to browse the admin")
    args = parser.parse_args(argv)
    started = time.monotonic()

    sandbox_port, server_port = free_port(), free_port()
    site = f"http://127.0.0.1:{server_port}"
    os.environ.update(
        DJANGO_SETTINGS_MODULE="demo_project.settings",
        WACLOUD_DEMO_BASE_URL=f"http://127.0.0.1:{sandbox_port}",
        WACLOUD_DEMO_VAR_DIR=str(VAR_DIR),
    )
    sys.path.insert(0, str(DEMO_DIR))
    say("wacloud demo: a Django project talking to a local WhatsApp Cloud API sandbox")

    step(1, f"Fresh database in {VAR_DIR}")
    shutil.rmtree(VAR_DIR, ignore_errors=True)
    VAR_DIR.mkdir(parents=True)
    (VAR_DIR / ".gitignore").write_text("*\n")  # run data, never committed
    from django.core.management import call_command

    import django

    django.setup()
    call_command("migrate", verbosity=0)
    say("    migrated")

    from wacloud.sandbox import Sandbox

    sandbox = Sandbox(
        access_token=ACCESS_TOKEN, phone_number_id=PHONE_NUMBER_ID, waba_id=WABA_ID, app_secret=APP_SECRET,
        port=sandbox_port, webhook_url=f"{site}/whatsapp/webhook/",
        sent_after=0.2, delivered_after=0.5, read_after=0.9, webhook_retry_base=0.2,
    )  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(DEMO_DIR), os.environ.get("PYTHONPATH", "")])}
    server = None
    try:
        step(2, "Starting the sandbox and the Django server")
        sandbox.start()
        say(f"    sandbox (Meta's stand-in)  {sandbox.base_url}   control API: {sandbox.base_url}/_sandbox")
        server = start_server(server_port, env)
        query = f"hub.mode=subscribe&hub.challenge=ok&hub.verify_token={VERIFY_TOKEN}"
        handshake = f"{site}/whatsapp/webhook/?{query}"

        step(3, "Registering the business account and syncing its templates (management commands)")
        os.environ["WHATSAPP_ACCESS_TOKEN"] = ACCESS_TOKEN  # from the environment: out of shell history
        call_command(
            "setup_whatsapp_account", "--name", "Demo Shop", "--phone-number-id", PHONE_NUMBER_ID,
            "--waba-id", WABA_ID, "--app-secret", APP_SECRET, "--verify-token", VERIFY_TOKEN,
            "--display-phone-number", "15550783881", "--test-connection", stdout=Indented(),
        )  # fmt: skip
        call_command("whatsapp_sync_templates", stdout=Indented())
        wait_for("the Django server", lambda: server_answers(handshake))
        say(f"    Django server              {site}   webhook: {site}/whatsapp/webhook/ (handshake OK)")

        from wacloud_django.models import BusinessAccount, Conversation, Message
        from wacloud_django.services.outbound import send_message

        account = BusinessAccount.objects.get(phone_number_id=PHONE_NUMBER_ID)

        step(4, f"A customer (+{CUSTOMER}) writes in through the sandbox")
        question = "Hi! Do you ship to Lisbon?"
        sandbox.inject_inbound(**{"from": CUSTOMER}, name="Ana", type="text", text=question)
        received = Message.objects.filter(direction=Message.Direction.INBOUND, contact__wa_id=CUSTOMER)
        inbound = wait_for("the inbound message webhook", received.first)
        say(f"    signed webhook received and stored: {inbound.text!r} from {inbound.contact}")

        step(5, "Replying: a text, a template and an image (send_message)")
        replies = [
            send_message(account, f"+{CUSTOMER}", "text", "Yes! Delivery to Lisbon takes 2 days.",
                         reply_to=inbound, enqueue=False),
            send_message(account, CUSTOMER, "template", template_name="hello_world",
                         template_language="en_US", enqueue=False),
            send_message(account, CUSTOMER, "image", {"caption": "Your parcel box"},
                         media={"data": png(), "filename": "box.png"}, enqueue=False),
        ]  # fmt: skip
        for message in replies:
            say(f"    {message.type:<8} -> {message.status} ({message.wamid})")
        if any(message.status != Message.Status.SENT for message in replies):
            raise RuntimeError("a reply was not accepted: " + "; ".join(m.error_message for m in replies))

        say("    waiting for delivered and read statuses (signed webhooks)...")
        # The help desk's "Ticket #1 created" reply is one of them: every outbound message counts.
        outbound = Message.objects.filter(direction=Message.Direction.OUTBOUND, contact__wa_id=CUSTOMER)
        wait_for("read statuses", lambda: not outbound.exclude(status=Message.Status.READ).exists())

        step(6, "The conversation, as stored by Django")
        print_conversation(Conversation.objects.get(account=account, contact__wa_id=CUSTOMER))

        step(7, "The REST API: a token for an agent, then two calls over HTTP")
        token = api_token("agent")
        answer = api_call(site, token, "GET", "/whatsapp/conversations?limit=5")
        for item in answer["results"]:
            say(f"    GET conversations -> {item['contact']['name']} (+{item['contact']['wa_id']}), "
                f"unread {item['unread_count']}, window open: {item['window_open']}")  # fmt: skip
        body = {
            "to": CUSTOMER,
            "type": "text",
            "content": {"text": "Your order ships today."},
            "ticketId": "1234",
        }
        answer = api_call(site, token, "POST", "/whatsapp/send", body)
        say(f"    POST send -> {answer}")
        sent = Message.objects.filter(pk=answer["id"], status=Message.Status.READ)
        wait_for("the API reply to be read", sent.exists)
        say("    ... and it was delivered and read, like the others")

        step(8, "Automation: a customer support rule (POST workflows/automate, seed 000's body)")
        show_support_rule(site, sandbox)

        step(9, "A small marketing campaign from a list of numbers, as people write them")
        show_campaign(account)

        step(10, "The help desk: the ticket Ana's first message opened, resolved over the API; GET stats")
        show_ticket_and_stats(site, token)

        step(11, "The monitor report (manage.py whatsapp_monitor)")
        call_command("whatsapp_monitor", "--hours", "1", stdout=Indented())

        elapsed = time.monotonic() - started
        say(f"\nDemo finished in {elapsed:.1f}s: every reply was sent, delivered and read.")
        if args.serve:
            serve(site, sandbox)
        return 0
    except (Exception, TimeoutError) as error:
        say(f"\nDemo failed: {error}")
        log = VAR_DIR / "server.log"
        if log.exists():
            say("--- Django server log (last lines) ---\n" + "\n".join(log.read_text().splitlines()[-30:]))
        return 1
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        sandbox.stop()


def show_support_rule(site: str, sandbox) -> None:
    """A marketer creates the rule over the API; a "help" message gets the auto response and an
    "urgent" one escalates the conversation (assigned round robin to the demo agent)."""
    from wacloud_django.models import Escalation, Message

    rule = {
        "type": "customer_support",
        "parameters": {
            "trigger_keywords": ["help", "support", "issue"],
            "auto_response": "Thank you for reaching out! Our support team will respond shortly.",
            "escalate_conditions": ["urgent", "emergency"],
        },
    }
    created = api_call(site, api_token("marketer"), "POST", "/whatsapp/workflows/automate", rule)["workflow"]
    say(f"    rule #{created['id']}: {created['trigger_keywords']} -> auto response, "
        f"{created['escalate_conditions']} -> escalation")  # fmt: skip
    sandbox.inject_inbound(**{"from": CUSTOMER}, name="Ana", type="text", text="I need HELP with my order")
    answers = Message.objects.filter(
        direction=Message.Direction.OUTBOUND, contact__wa_id=CUSTOMER, text=created["auto_response"]
    )
    answer = wait_for("the auto response", answers.first)
    say(f"    'I need HELP with my order' -> answered: {answer.text!r}")
    wait_for("the auto response to be read", answers.filter(status=Message.Status.READ).exists)
    sandbox.inject_inbound(
        **{"from": CUSTOMER}, name="Ana", type="text", text="This is urgent: my parcel is lost"
    )
    escalations = Escalation.objects.filter(conversation__contact__wa_id=CUSTOMER).select_related(
        "assigned_to"
    )
    escalation = wait_for("the escalation", escalations.first)
    say(f"    'This is urgent: ...' -> conversation escalated ({escalation.priority}, matched "
        f"{escalation.reason!r}, assigned to {escalation.assigned_to or 'nobody'})")  # fmt: skip


def show_campaign(account) -> None:
    """Five lines of a CSV (one duplicate, one not a number) sent as a template campaign; its
    progress is shown as the sandbox's delivered and read statuses come back."""
    from wacloud_django.automation.services import campaigns
    from wacloud_django.models import Campaign

    numbers = ["+1 555 000 2001", "+1 (555) 000-2002", "15550002003", "0015550002001", "not a number"]
    result = campaigns.run_demo_campaign(account, numbers, template_name="hello_world")
    report = result["audience_report"]
    say(f"    campaign #{result['id']}: {report['rows']} lines, {report['valid']} valid numbers, "
        f"{report['duplicates']} duplicate merged, {report['invalid']} invalid (line "
        f"{report['invalid_rows'][0]['line']})")  # fmt: skip
    campaign = Campaign.objects.get(pk=result["id"])

    def counts() -> dict[str, int]:
        return {status: n for status, n in campaigns.progress(campaign)["counts"].items() if n}

    say(f"    sent: {counts()}")
    recipients = campaigns.progress(campaign)["total"]
    wait_for("the campaign to be read", lambda: counts() == {"read": recipients})
    campaign.refresh_from_db()
    say(f"    statuses from Meta's webhooks: {counts()}, campaign {campaign.status}")


def show_ticket_and_stats(site: str, token: str) -> None:
    """Seed 004's flow: the first message opened ticket #1 (its later messages are comments);
    an agent resolves it, the customer is told, and the stats count it."""
    from wacloud_django.models import Message

    ticket = api_call(site, token, "GET", "/whatsapp/tickets/1")["ticket"]
    say(f"    ticket #{ticket['number']} ({ticket['status']}): {ticket['subject']!r}, "
        f"{len(ticket['comments'])} comments from the same session")  # fmt: skip
    resolved = api_call(site, token, "PATCH", "/whatsapp/tickets/1", {"status": "resolved"})["ticket"]
    say(f"    PATCH tickets/1 status=resolved -> {resolved['status']}")
    told = Message.objects.filter(direction=Message.Direction.OUTBOUND, contact__wa_id=CUSTOMER)
    notice = wait_for("the customer to be told", told.filter(text__icontains="resolved").first)
    say(f"    the customer is told: {notice.text.splitlines()[0]!r}")
    wait_for("the notice to be read", told.filter(pk=notice.pk, status=Message.Status.READ).exists)
    stats = api_call(site, token, "GET", "/whatsapp/stats?days=30")["stats"]
    say(f"    GET stats?days=30 -> {stats}")


def api_token(role: str) -> str:
    """A user with ``role`` in the default organization, and their API token (shown once)."""
    from wacloud_django.services.members import add_member_by_name

    return add_member_by_name(f"demo-{role}", role=role, create_user=True, issue_token=True)["token"]


def api_call(site: str, token: str, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        site + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        return json.loads(response.read())


def serve(site: str, sandbox) -> None:
    from django.contrib.auth.models import User

    password = secrets.token_urlsafe(9)
    from wacloud_django.services.tenancy import add_member, default_organization

    # A member too, so conversations can be assigned to them in the inbox.
    add_member(default_organization(), User.objects.create_superuser("admin", "admin@example.com", password),
               "admin")  # fmt: skip
    say(f"\nServing until Ctrl-C.\n    inbox:    {site}/inbox/   user: admin   password: {password}")
    say(f"    live:     ws{site.removeprefix('http')}/inbox/ws/   (pushes each change to the inbox's pages)")
    say(f"    admin:    {site}/admin/   user: admin   password: {password}")
    say(f"    API:      {site}/whatsapp/docs   token (admin role): {api_token('admin')}")
    say(f"    sandbox:  {sandbox.base_url}/_sandbox   (POST /_sandbox/inbound to write in as a customer)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        say("\nStopping.")


if __name__ == "__main__":
    sys.exit(main())
