"""The command lines, settings and Celery calls of the integration guide wacloud
replaces (docs/commands.md, "Names from earlier integrations") work as written,
against a sandbox playing the guide's account; and the errors of the quick start
name what the user did."""

from __future__ import annotations

import json
import shlex
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from wacloud_django.conf import get_setting
from wacloud_django.models import BusinessAccount, Contact, Message

pytestmark = pytest.mark.django_db

# As the guide writes them (its placeholders filled in); each runs exactly so.
SEED_COMMAND_LINES = r"""
python manage.py setup_whatsapp_account --name "My Business" --business-account-id "123456789" \
    --phone-number-id "987654321" --access-token "tok" --webhook-verify-token "vt" \
    --app-id "app" --app-secret "sec" --test-connection
python manage.py test_whatsapp --business-account-id "123456789" --test-type connectivity
python manage.py test_whatsapp --business-account-id "123456789" --test-type send-text --to "1234567890" --message "Test message"
python manage.py test_whatsapp --business-account-id "123456789" --test-type send-template --to "1234567890" --template-name "hello_world"
python manage.py test_whatsapp --business-account-id "123456789" --test-type profile
python manage.py test_whatsapp --business-account-id "123456789" --test-type templates
python manage.py whatsapp_monitor --business-account-id "123456789" --hours 48 --format json
"""  # noqa: E501
CUSTOMER = "11234567890"  # "1234567890" read with WHATSAPP_DEFAULT_COUNTRY_CODE = "1"


def command_lines(text: str) -> list[list[str]]:
    """Each ``python manage.py ...`` line (backslash continuations joined) as call_command arguments."""
    lines = []
    for line in text.replace("\\\n", " ").strip().splitlines():
        words = shlex.split(line)
        assert words[:2] == ["python", "manage.py"], line
        lines.append(words[2:])
    return lines


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture(scope="module")
def seed_sandbox():
    """The sandbox playing the guide's account (its ids, token and app secret)."""
    from wacloud.sandbox import Sandbox

    with Sandbox(
        access_token="tok", phone_number_id="987654321", waba_id="123456789", app_secret="sec"
    ) as sb:
        yield sb


@pytest.fixture
def seed_settings(seed_sandbox, settings, monkeypatch):
    seed_sandbox.reset()
    monkeypatch.delenv("WHATSAPP_ACCESS_TOKEN", raising=False)
    settings.WACLOUD = {**settings.WACLOUD, "BASE_URL": seed_sandbox.base_url, "REQUEST_TIMEOUT": 5}
    settings.WHATSAPP_DEFAULT_COUNTRY_CODE = "1"  # the guide's top-level setting
    return seed_sandbox


def test_the_guides_command_lines_run_as_written_against_the_sandbox(seed_settings):
    sandbox = seed_settings
    (setup, connectivity, send_text, send_template, profile, templates, monitor) = command_lines(
        SEED_COMMAND_LINES
    )
    assert "Connection OK: Sandbox Business" in run(*setup)
    account = BusinessAccount.objects.get(phone_number_id="987654321")
    assert (account.name, account.waba_id, account.app_id) == ("My Business", "123456789", "app")
    assert (account.access_token, account.app_secret, account.verify_token) == ("tok", "sec", "vt")

    assert "Connected: Sandbox Business" in run(*connectivity)
    assert "Sent template to 1234567890: wamid." in run(*send_template)
    assert [m["type"] for m in sandbox.sent_messages(to=CUSTOMER)] == ["template"]
    with pytest.raises(CommandError, match="24-hour customer service window"):
        run(*send_text)  # the customer never wrote: only templates may go
    sandbox.inject_inbound(**{"from": CUSTOMER}, name="Ana", type="text", text="hi")
    Contact.objects.filter(account=account, wa_id=CUSTOMER).update(last_inbound_at=timezone.now())
    assert "Sent text to 1234567890: wamid." in run(*send_text)
    assert sandbox.sent_messages(to=CUSTOMER, type="text")[0]["payload"]["text"]["body"] == "Test message"

    assert "Business profile:" in run(*profile)
    assert "hello_world (en_US): APPROVED" in run(*templates)
    report = json.loads(run(*monitor))
    assert report["hours"] == 48 and report["account"] == "987654321"
    assert report["outbound"]["attempted"] == 2 and report["outbound"]["by_status"] == {"sent": 2}


def test_our_own_flags_stay_beside_the_guides(seed_settings):
    run("setup_whatsapp_account", "--phone-number-id", "987654321", "--waba-id", "123456789",
        "--access-token", "tok", "--verify-token", "vt2")  # fmt: skip
    assert BusinessAccount.objects.get().verify_token == "vt2"
    data = json.loads(run("test_whatsapp", "--account", "987654321", "--test-type", "templates",
                          "--format", "json"))  # fmt: skip
    assert data["ok"]
    with pytest.raises(CommandError, match=r"No WhatsApp account with business account \(WABA\) id 999"):
        run("test_whatsapp", "--business-account-id", "999")


def test_a_number_without_country_code_and_no_default_says_what_to_set(seed_settings, settings):
    del settings.WHATSAPP_DEFAULT_COUNTRY_CODE
    run(*command_lines(SEED_COMMAND_LINES)[0])
    with pytest.raises(CommandError, match=r'too short .*set WACLOUD\["DEFAULT_COUNTRY_CODE"\]'):
        run("test_whatsapp", "--test-type", "send-template", "--to", "1234567890")
    assert not Message.objects.exists()


# -- settings under the guide's names ----------------------------------------------------------------


def test_guide_settings_are_read_from_django_settings_or_the_environment(settings, monkeypatch):
    monkeypatch.delenv("WHATSAPP_AUTO_MARK_READ", raising=False)
    monkeypatch.delenv("WHATSAPP_DEFAULT_COUNTRY_CODE", raising=False)
    assert get_setting("AUTO_MARK_READ") is False and get_setting("DEFAULT_COUNTRY_CODE") is None
    monkeypatch.setenv("WHATSAPP_AUTO_MARK_READ", "True")
    monkeypatch.setenv("WHATSAPP_DEFAULT_COUNTRY_CODE", "1")
    assert get_setting("AUTO_MARK_READ") is True and get_setting("DEFAULT_COUNTRY_CODE") == "1"
    settings.WHATSAPP_AUTO_MARK_READ = False  # a Django setting wins over the environment
    settings.WHATSAPP_DEFAULT_COUNTRY_CODE = 44
    assert get_setting("AUTO_MARK_READ") is False and get_setting("DEFAULT_COUNTRY_CODE") == "44"
    settings.WACLOUD = {**settings.WACLOUD, "AUTO_MARK_READ": True, "DEFAULT_COUNTRY_CODE": "GB"}
    assert get_setting("AUTO_MARK_READ") is True and get_setting("DEFAULT_COUNTRY_CODE") == "GB"


def test_a_bad_boolean_in_the_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("WHATSAPP_AUTO_MARK_READ", "sometimes")
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="environment variable WHATSAPP_AUTO_MARK_READ"):
        get_setting("AUTO_MARK_READ")


# -- the guide's Celery call and beat schedule ---------------------------------------------------------


@pytest.fixture
def eager_celery(settings):
    from celery import Celery, _state

    app = Celery("wacloud_seed_tests", set_as_current=True)
    app.conf.task_always_eager = True
    app.conf.task_store_eager_result = False
    settings.WACLOUD = {**settings.WACLOUD, "USE_CELERY": True}
    yield app
    _state._set_current_app(None)
    _state._apps.discard(app)


def test_the_guides_celery_call_queues_and_sends(
    seed_settings, eager_celery, django_capture_on_commit_callbacks
):
    from wacloud_django.tasks import send_whatsapp_message

    run(*command_lines(SEED_COMMAND_LINES)[0])
    seed_settings.inject_inbound(**{"from": CUSTOMER}, name="Ana", type="text", text="hi")
    account = BusinessAccount.objects.get()
    Contact.objects.create(account=account, wa_id=CUSTOMER, last_inbound_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):  # the outbox hands the row to the task
        result = send_whatsapp_message.delay(
            business_account_id="123456789", to="1234567890", message_type="text", content="Async message!"
        )
    message = Message.objects.get(pk=result.get())
    assert message.text == "Async message!" and message.status == Message.Status.SENT
    # The row-id form queued by send_message keeps working (it sent this very row).
    assert send_whatsapp_message.delay(message.pk).get() == "skipped"


def test_the_guides_beat_schedule_task_names_are_registered(eager_celery, seed_settings):
    import wacloud_django.tasks  # noqa: F401  (autodiscovery imports it in a project)

    run(*command_lines(SEED_COMMAND_LINES)[0])
    results = {}
    for name in ("sync_whatsapp_templates", "cleanup_old_webhook_events", "retry_failed_messages"):
        task = eager_celery.tasks[f"whatsapp_integration.tasks.{name}"]
        results[name] = task.delay().get()
    assert results["sync_whatsapp_templates"]["987654321"]["created"] == 1
    assert results["retry_failed_messages"] == {"requeued": 0, "rescheduled": 0, "not_retriable": 0}


# -- the quick start's errors ------------------------------------------------------------------------


def test_setup_errors_name_the_flag_that_was_used(db, monkeypatch):
    monkeypatch.delenv("WHATSAPP_ACCESS_TOKEN", raising=False)
    with pytest.raises(CommandError) as raised:
        run("setup_whatsapp_account", "--name", "Shop", "--phone-number-id", "1234567890")
    assert str(raised.value).startswith("--phone-number-id '1234567890' names a new account")
    assert "WHATSAPP_PHONE_NUMBER_ID is set" not in str(raised.value)
    with pytest.raises(CommandError, match="--phone-number-id must be the numeric phone number id"):
        run("setup_whatsapp_account", "--phone-number-id", "abc", "--access-token", "t")
    monkeypatch.setenv("WHATSAPP_PHONE_NUMBER_ID", "555")
    with pytest.raises(CommandError, match=r"^WHATSAPP_PHONE_NUMBER_ID='555' names a new account"):
        run("setup_whatsapp_account")
    monkeypatch.setenv("WHATSAPP_PHONE_NUMBER_ID", "five")
    with pytest.raises(CommandError, match=r"^WHATSAPP_PHONE_NUMBER_ID must be the numeric"):
        run("setup_whatsapp_account", "--access-token", "t")
    assert not BusinessAccount.objects.exists()


@pytest.fixture(params=["another key", "no key", "a malformed key"])
def stored_under_another_key(request, settings):
    settings.WACLOUD = {**settings.WACLOUD, "ENCRYPTION_KEY": "ab" * 32}
    account = BusinessAccount.objects.create(
        name="Shop", phone_number_id="987654321", access_token="tok", app_secret="sec"
    )
    configured = {k: v for k, v in settings.WACLOUD.items() if k != "ENCRYPTION_KEY"}
    if request.param == "another key":
        configured["ENCRYPTION_KEY"] = "cd" * 32
    elif request.param == "a malformed key":
        configured["ENCRYPTION_KEY"] = "not-hex"
    settings.WACLOUD = configured  # "no key": one derived from SECRET_KEY, which is not the one used
    return account


@pytest.mark.parametrize(
    "command",
    [
        ["whatsapp_send", "--to", "+15550001111", "--text", "hi"],
        ["whatsapp_sandbox", "--port", "1"],
        ["test_whatsapp"],
    ],
)
def test_a_wrong_encryption_key_is_a_clear_error_and_nothing_is_stored(stored_under_another_key, command):
    with pytest.raises(
        CommandError, match=r"access token of account 987654321 cannot be decrypted"
    ) as raised:
        run(*command)
    assert 'WACLOUD["ENCRYPTION_KEY"]' in str(raised.value)
    assert not Message.objects.exists()


def test_whatsapp_sandbox_without_aiohttp_names_the_extra(db, monkeypatch):
    BusinessAccount.objects.create(phone_number_id="987654321", access_token="tok", app_secret="sec")
    monkeypatch.setitem(sys.modules, "aiohttp", None)
    with pytest.raises(CommandError, match=r'pip install "wacloud\[sandbox\]"'):
        run("whatsapp_sandbox")


def test_the_monitor_rates_share_one_denominator(sandbox, account):
    from wacloud_django.services.analytics import monitor_report

    contact = Contact.objects.create(account=account, wa_id="15550001111")
    for index, status in enumerate(["read", "read", "read", "delivered", "queued"]):
        wamid = None if status == "queued" else f"wamid.{index}"
        Message.objects.create(
            account=account, contact=contact, direction="outbound", type="text", status=status, wamid=wamid
        )
    outbound = monitor_report(1, account)["outbound"]
    assert outbound["attempted"] == 4
    assert (outbound["delivery_rate"], outbound["read_rate"], outbound["failure_rate"]) == (1.0, 0.75, 0.0)
    assert "4 attempted (left the outbox); of those: delivered 100.0%, read 75.0%, failed 0.0%" in run(
        "whatsapp_monitor", "--hours", "1"
    )
