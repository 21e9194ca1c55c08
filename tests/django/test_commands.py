"""Management commands (through call_command, JSON parsed) and admin actions, against the sandbox."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from wacloud_test_helpers import APP_SECRET, PHONE_NUMBER_ID, WABA_ID

from wacloud_django.models import BusinessAccount, Contact, Conversation, Message, Template
from wacloud_django.services.inbound import open_conversation

pytestmark = pytest.mark.django_db

CUSTOMER = "15550003333"


def run(*args, **options):
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


def run_json(*args):
    return json.loads(run(*args, "--format", "json"))


def window_open(sandbox, account):
    sandbox.inject_inbound(**{"from": CUSTOMER}, name="Cy", type="text", text="hi")
    now = timezone.now()
    Contact.objects.update_or_create(account=account, wa_id=CUSTOMER, defaults={"last_inbound_at": now})


# -- setup_whatsapp_account ----------------------------------------------------------------------


def test_setup_account_from_flags_and_environment_then_test_connection(sandbox, db, monkeypatch):
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", "EAAG-test-token")  # kept out of the shell history
    data = run_json(
        "setup_whatsapp_account", "--name", "Shop", "--phone-number-id", PHONE_NUMBER_ID,
        "--waba-id", WABA_ID, "--app-secret", APP_SECRET, "--verify-token", "vt",
        "--display-phone-number", "15550783881", "--test-connection",
    )  # fmt: skip
    assert data["access_token_set"] and data["app_secret_set"] and data["is_active"]
    assert data["connection"]["verified_name"] == "Sandbox Business"
    account = BusinessAccount.objects.get(phone_number_id=PHONE_NUMBER_ID)
    assert account.name == "Shop" and account.access_token == "EAAG-test-token"
    assert "EAAG-test-token" not in account.access_token_encrypted  # encrypted at rest
    # Running it again updates in place (e.g. on every deploy).
    run("setup_whatsapp_account", "--phone-number-id", PHONE_NUMBER_ID, "--name", "Shop 2")
    assert BusinessAccount.objects.get().name == "Shop 2"


def test_setup_account_errors_name_the_missing_input(db, monkeypatch):
    monkeypatch.delenv("WHATSAPP_PHONE_NUMBER_ID", raising=False)
    monkeypatch.delenv("WHATSAPP_ACCESS_TOKEN", raising=False)
    with pytest.raises(CommandError, match="--phone-number-id"):
        run("setup_whatsapp_account", "--name", "x")
    with pytest.raises(CommandError, match="--access-token or the WHATSAPP_ACCESS_TOKEN"):
        run("setup_whatsapp_account", "--phone-number-id", "123")
    assert not BusinessAccount.objects.exists()


def test_setup_account_with_a_bad_token_reports_the_failed_connection(sandbox, db):
    with pytest.raises(CommandError, match="connection test failed: AuthenticationError"):
        run("setup_whatsapp_account", "--phone-number-id", PHONE_NUMBER_ID, "--access-token", "wrong",
            "--test-connection")  # fmt: skip


# -- test_whatsapp, whatsapp_send ----------------------------------------------------------------


@pytest.mark.parametrize("test_type", ["connectivity", "profile", "templates"])
def test_test_whatsapp_read_only_checks(sandbox, account, test_type):
    data = run_json("test_whatsapp", "--test-type", test_type)
    assert data["ok"] and data["test"] == test_type
    if test_type == "templates":
        assert [t["name"] for t in data["templates"]] == ["hello_world"]


def test_test_whatsapp_sends(sandbox, account):
    with pytest.raises(CommandError, match="needs --to"):
        run("test_whatsapp", "--test-type", "send-text")
    data = run_json("test_whatsapp", "--test-type", "send-template", "--to", CUSTOMER)
    assert data["message"]["status"] == "sent" and data["message"]["wamid"]
    with pytest.raises(CommandError, match="24-hour customer service window"):
        run("test_whatsapp", "--test-type", "send-text", "--to", CUSTOMER)
    window_open(sandbox, account)
    assert (
        run_json("test_whatsapp", "--test-type", "send-text", "--to", CUSTOMER)["message"]["status"] == "sent"
    )


def test_whatsapp_send_text_template_and_media(sandbox, account, tmp_path):
    window_open(sandbox, account)
    text = run_json("whatsapp_send", "--to", f"+{CUSTOMER}", "--text", "from the shell")
    assert text["status"] == "sent" and text["to"] == CUSTOMER
    template = run_json("whatsapp_send", "--to", CUSTOMER, "--template", "hello_world", "--language", "en_US")
    assert template["type"] == "template" and template["status"] == "sent"
    from test_outbound import PNG

    image = tmp_path / "dot.png"
    image.write_bytes(PNG)
    sent = run_json("whatsapp_send", "--to", CUSTOMER, "--image", str(image), "--caption", "dot")
    assert sent["status"] == "sent"
    assert Message.objects.get(pk=sent["id"]).media.get().media_id
    assert len(sandbox.sent_messages(to=CUSTOMER)) == 3


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--to", "abc", "--text", "x"], "Not sent: .*number"),
        (["--to", CUSTOMER, "--image", "/no/such/file.png"], "not a media id, an http"),
        (["--to", CUSTOMER, "--template", "hello_world", "--components", "{"], "not valid JSON"),
        (
            ["--to", CUSTOMER, "--text", "x", "--account", "999"],
            "No WhatsApp account with phone number id 999",
        ),
    ],
)
def test_whatsapp_send_bad_input_is_a_command_error(sandbox, account, args, match):
    with pytest.raises(CommandError, match=match):
        run("whatsapp_send", *args)
    assert not Message.objects.exists()


def test_commands_need_an_account(db):
    with pytest.raises(CommandError, match="No active WhatsApp account"):
        run("whatsapp_sync_templates")


# -- whatsapp_sync_templates, whatsapp_monitor ----------------------------------------------------


def test_sync_templates_json_and_progress_bar(sandbox, account):
    assert run_json("whatsapp_sync_templates") == {
        "account": PHONE_NUMBER_ID, "created": 1, "updated": 0, "unchanged": 0, "deleted": 0,
    }  # fmt: skip
    text = run("whatsapp_sync_templates")
    assert "Templates [##############################] 1/1" in text
    assert "Templates synced: 0 created, 0 updated, 1 unchanged, 0 deleted." in text


def test_monitor_report_counts_rates_and_templates(sandbox, account):
    window_open(sandbox, account)
    run("whatsapp_sync_templates")
    for body in ("one", "two"):
        run("whatsapp_send", "--to", CUSTOMER, "--text", body)
    sandbox.set_faults(error_rate=1.0)
    with pytest.raises(CommandError, match="failed"):
        run("whatsapp_send", "--to", CUSTOMER, "--text", "three")
    report = run_json("whatsapp_monitor", "--hours", "1")
    assert report["outbound"]["by_status"] == {"failed": 1, "sent": 2}
    assert report["outbound"]["failure_rate"] == pytest.approx(1 / 3, abs=1e-3)
    assert report["outbound"]["retriable_failures"] == 1
    assert report["rate_limits"][0]["sent_this_hour"] == 2
    assert report["templates"] == {"APPROVED": 1}
    assert "failed 33.3%" in run("whatsapp_monitor")
    with pytest.raises(CommandError, match="--hours must be a positive"):
        run("whatsapp_monitor", "--hours", "0")


# -- admin actions -------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, db):
    user = User.objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(user)
    return client


def act(admin_client, model, action, pks, **extra):
    url = reverse(f"admin:wacloud_{model}_changelist")
    return admin_client.post(url, {"action": action, "_selected_action": pks, **extra}, follow=True)


def page_messages(response):
    return [str(m) for m in response.context["messages"]]


def test_admin_test_connection(sandbox, account, admin_client):
    response = act(admin_client, "businessaccount", "test_connection", [account.pk])
    assert any("connected as Sandbox Business" in m for m in page_messages(response))


def test_admin_retry_only_retries_retriable_failures(sandbox, account, admin_client):
    window_open(sandbox, account)
    sandbox.set_faults(error_rate=1.0)
    from wacloud_django.services.outbound import send_message

    failed = send_message(account, CUSTOMER, "text", "retry me", enqueue=False)
    assert failed.failure_kind == Message.SendFailure.RETRIABLE
    sandbox.clear_faults()
    sent = send_message(account, CUSTOMER, "text", "fine", enqueue=False)
    response = act(admin_client, "message", "retry_messages", [failed.pk, sent.pk])
    assert any("Requeued 1" in m and "1 not retried" in m for m in page_messages(response))
    failed.refresh_from_db()
    assert failed.status == Message.Status.SENT
    assert len(sandbox.sent_messages(to=CUSTOMER)) == 2


def test_admin_sync_templates(sandbox, account, admin_client):
    template = Template.objects.create(waba_id=WABA_ID, name="old", language="en", status="APPROVED")
    response = act(admin_client, "template", "sync_selected_templates", [template.pk])
    assert any("1 created" in m and "1 deleted" in m for m in page_messages(response))


def test_admin_reply_form_sends_through_the_outbox(
    sandbox, account, admin_client, django_capture_on_commit_callbacks
):
    window_open(sandbox, account)
    conversation = open_conversation(account, Contact.objects.get(wa_id=CUSTOMER))
    form = act(admin_client, "conversation", "reply", [conversation.pk])
    assert form.status_code == 200 and b"Send reply" in form.content
    with django_capture_on_commit_callbacks(execute=True):
        response = act(admin_client, "conversation", "reply", [conversation.pk], apply="1", text="Thanks!")
    assert any("reply queued" in m for m in page_messages(response))
    message = Message.objects.get(conversation=conversation)
    assert message.text == "Thanks!" and message.status == Message.Status.SENT
    assert Conversation.objects.count() == 1


# -- whatsapp_sandbox (a server: run as a subprocess of the demo project) ------------------------


def test_whatsapp_sandbox_plays_the_account_and_targets_this_projects_webhook(tmp_path):
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    manage = Path(__file__).resolve().parents[2] / "examples" / "demo" / "manage.py"
    env = {**os.environ, "WACLOUD_DEMO_VAR_DIR": str(tmp_path), "WHATSAPP_ACCESS_TOKEN": "sandbox-cmd-token",
           "DJANGO_SETTINGS_MODULE": "demo_project.settings"}  # fmt: skip
    for command in (["migrate", "-v0"], ["setup_whatsapp_account", "--phone-number-id", "555000111",
                                         "--app-secret", "cmd-secret", "--waba-id", "777"]):  # fmt: skip
        subprocess.run([sys.executable, str(manage), *command], env=env, check=True, capture_output=True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, str(manage), "whatsapp_sandbox", "--port", str(port), "--site-url", "http://127.0.0.1:9"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline, config = time.monotonic() + 20, None
        while config is None and time.monotonic() < deadline and server.poll() is None:
            try:
                url = f"http://127.0.0.1:{port}/_sandbox/config"
                with urllib.request.urlopen(url, timeout=1) as response:
                    config = json.loads(response.read())
            except OSError:
                time.sleep(0.1)
        assert config is not None, server.communicate(timeout=5)[0]
        assert config["phone_number_id"] == "555000111" and config["waba_id"] == "777"
        assert config["webhook_url"] == "http://127.0.0.1:9/whatsapp/webhook/"
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=20)
    assert server.returncode == 0, output
    assert f'WACLOUD["BASE_URL"] = "http://127.0.0.1:{port}"' in output


def test_whatsapp_send_queue_hands_the_row_to_the_outbox(sandbox, account):
    window_open(sandbox, account)
    data = run_json("whatsapp_send", "--to", CUSTOMER, "--text", "later", "--queue")
    # The test transaction never commits, so the outbox still holds it: queued, nothing sent.
    assert data["status"] == "queued" and data["wamid"] is None
    assert sandbox.sent_messages() == []


def test_setup_account_is_audited_with_secrets_masked(db):
    from wacloud_django.models import AuditEntry

    call_command(
        "setup_whatsapp_account", "--name", "Shop", "--phone-number-id", "987654321",
        "--access-token", "EAAG-secret-token", "--app-secret", "s3cret", stdout=StringIO(),
    )  # fmt: skip
    entry = AuditEntry.objects.get(action="integration.setup")
    assert entry.source == "command" and entry.object_id == str(BusinessAccount.objects.get().pk)
    assert entry.changes["access_token"] == [None, "***"] and entry.changes["app_secret"] == [None, "***"]
    assert entry.changes["name"] == [None, "Shop"]
    assert "EAAG-secret-token" not in json.dumps(entry.changes)
