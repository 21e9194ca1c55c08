"""``make demo``: the runner end to end as a subprocess, then ``--serve``'s admin login."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

RUNNER = Path(__file__).resolve().parents[2] / "examples" / "demo" / "run_demo.py"


def demo_env(tmp_path: Path) -> dict[str, str]:
    # Its own database folder, so the test never touches a developer's examples/demo/var.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "WHATSAPP_"))}
    return {**env, "WACLOUD_DEMO_VAR_DIR": str(tmp_path / "var"), "PYTHONUNBUFFERED": "1"}


def test_demo_runs_end_to_end_and_exits_0(tmp_path):
    result = subprocess.run(
        [sys.executable, str(RUNNER)], env=demo_env(tmp_path), capture_output=True, text=True, timeout=90
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for expected in (
        "Connection OK: Sandbox Business",
        "Templates synced: 1 created",
        "signed webhook received and stored: 'Hi! Do you ship to Lisbon?' from Ana (15550001234)",
        "text     -> sent (wamid.",
        "template -> sent (wamid.",
        "image    -> sent (wamid.",
        "GET conversations -> Ana (+15550001234)",
        "POST send -> {'success': True, 'messageId': 'wamid.",
        "... and it was delivered and read, like the others",
        "['help', 'support', 'issue'] -> auto response, ['urgent', 'emergency'] -> escalation",
        "'I need HELP with my order' -> answered: 'Thank you for reaching out!",
        "-> conversation escalated (urgent, matched 'urgent', assigned to demo-agent)",
        "5 lines, 4 valid numbers, 1 duplicate merged, 1 invalid (line 5)",
        "statuses from Meta's webhooks: {'read': 3}, campaign completed",
        "ticket #1 (open): 'Hi! Do you ship to Lisbon?', 3 comments from the same session",
        "PATCH tickets/1 status=resolved -> resolved",
        "the customer is told: 'Your ticket #1 was resolved.",
        "'ticketsCreated': 1",
        "delivered 100.0%, read 100.0%, failed 0.0%",
        "backlog 0",
        "every reply was sent, delivered and read",
    ):
        assert expected in out, f"missing {expected!r} in:\n{out}"
    conversation = out.split("[6]")[1].split("[7]")[0]
    # The three replies and the help desk's "Ticket #1 created" answer.
    assert conversation.count("[read]") == 4 and "[received]" in conversation
    assert (tmp_path / "var" / "demo.sqlite3").exists()


def test_demo_serve_keeps_the_admin_up_with_the_printed_login(tmp_path):
    process = subprocess.Popen(
        [sys.executable, str(RUNNER), "--serve"], env=demo_env(tmp_path), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        lines = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            assert line, "the demo ended before serving:\n" + "".join(lines)
            lines.append(line)
            if "sandbox:" in line:  # the last line printed before serving
                break
        else:
            raise AssertionError("no sandbox line:\n" + "".join(lines))
        printed = "".join(lines)
        found = re.search(r"admin:\s+(\S+)\s+user: admin\s+password: (\S+)", printed)
        assert found, printed
        admin_url, password = found.groups()
        cookies = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies))
        login_url = admin_url + "login/?next=/admin/"
        page = opener.open(login_url, timeout=10).read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        fields = {"csrfmiddlewaretoken": token, "username": "admin", "password": password}
        form = urllib.parse.urlencode(fields)
        request = urllib.request.Request(login_url, data=form.encode(), headers={"Referer": login_url})
        dashboard = opener.open(request, timeout=10).read().decode()
        assert "WhatsApp Cloud" in dashboard and "Log out" in dashboard
        # The same session opens the web inbox, printed first, on the demo's conversation.
        inbox_url = next(re.search(r"inbox:\s+(\S+)", line).group(1) for line in lines if "inbox:" in line)
        inbox = opener.open(inbox_url, timeout=10).read().decode()
        assert "<h1>Conversations</h1>" in inbox and 'class="conversation' in inbox
        assert 'data-live-url="/inbox/ws/"' in inbox
        assert_pushes_reach_the_inbox_socket(cookies, inbox_url, lines)
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
    assert process.returncode == 0, rest
    assert "Stopping." in rest


def assert_pushes_reach_the_inbox_socket(cookies, inbox_url: str, lines: list[str]) -> None:
    """`make serve` runs under ASGI: the logged-in session's socket hears a customer's message
    the moment its webhook is stored; a socket opened from another site's page is refused."""
    from ws_support import SocketRefused, WebSocketClient

    site = inbox_url.split("/inbox/")[0]
    socket_url = site.replace("http://", "ws://") + "/inbox/ws/"
    session = "; ".join(f"{cookie.name}={cookie.value}" for cookie in cookies)
    try:
        WebSocketClient(socket_url, cookie=session, origin="http://evil.example")
    except SocketRefused as refused:
        assert refused.code == 403
    else:
        raise AssertionError("a socket from another origin was accepted")
    live = WebSocketClient(socket_url, cookie=session, origin=site)
    try:
        sandbox = next(re.search(r"sandbox:\s+(\S+)/_sandbox", line).group(1) for line in lines
                       if "sandbox:" in line)  # fmt: skip
        body = {"from": "15550009876", "name": "Live Lee", "type": "text", "text": "pushed?"}
        request = urllib.request.Request(f"{sandbox}/_sandbox/inbound", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})  # fmt: skip
        urllib.request.urlopen(request, timeout=10).read()
        # Statuses may come first: the help desk answers a new customer at once.
        events = [live.receive_json(timeout=20)]
        while events[-1]["event"] != "message":
            events.append(live.receive_json(timeout=20))
        assert events[-1]["direction"] == "inbound", events
        assert isinstance(events[-1]["conversation"], int) and isinstance(events[-1]["message"], int)
    finally:
        live.close()
