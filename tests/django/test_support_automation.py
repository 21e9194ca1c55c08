"""Customer support rules (seed 000's ``customer_support`` workflow, docs/automation.md),
driven through signed webhooks with the sandbox as Meta: auto responses once per cooldown,
multilingual whole-word matching, escalation with round robin, the signal and a signed
webhook to a local server, business hours on a controlled clock, bot-loop guards, the
``workflows/automate`` endpoint with its roles and tenancy."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from unittest import mock

import pytest
from api_support import Api, member, tenant_a, tenant_b
from django.utils import timezone
from wacloud_test_helpers import USER, text_message

from wacloud_django import signals
from wacloud_django.automation.services import support
from wacloud_django.models import AuditEntry, BusinessAccount, Escalation, Message, SupportFiring, SupportRule

pytestmark = pytest.mark.django_db

SEED_BODY = {
    "type": "customer_support",
    "parameters": {
        "trigger_keywords": ["help", "support", "issue"],
        "auto_response": "Thank you for reaching out! Our support team will respond shortly.",
        "escalate_conditions": ["urgent", "emergency"],
    },
}
AUTO = SEED_BODY["parameters"]["auto_response"]
_wamids = count()


def make_rule(account, **fields):
    parameters = {**SEED_BODY["parameters"], **fields}
    return support.create_support_rule(account.organization, parameters)


def writes(post_webhook, sandbox, text, *, wa_id=USER, at=None):
    sandbox.inject_inbound(**{"from": wa_id}, name="Ana", type="text", text=text)
    wamid = f"wamid.support{next(_wamids)}"
    stamp = int((at or timezone.now()).timestamp())
    response = post_webhook(text_message(wamid, text, wa_id=wa_id, timestamp=stamp))
    assert response.status_code == 200
    return Message.objects.get(wamid=wamid)


def replies(sandbox, wa_id=USER):
    return [sent["payload"]["text"]["body"] for sent in sandbox.sent_messages(to=wa_id, type="text")]


@pytest.fixture
def clock():
    """``timezone.now`` under the test's control: ``clock.set(datetime)``."""

    class Clock:
        now = None

        def set(self, value):
            self.now = value

    controlled = Clock()
    real = timezone.now
    with mock.patch("django.utils.timezone.now", lambda: controlled.now or real()):
        yield controlled


@pytest.fixture
def hook_server():
    """An HTTP server on 127.0.0.1 that records each POST (headers, body)."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.received = received
    server.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield server
    server.shutdown()
    server.server_close()


# -- auto responses --------------------------------------------------------------------------------


def test_help_gets_the_auto_response_once_within_the_cooldown(post_webhook, sandbox, account, clock):
    make_rule(account)
    start = timezone.now()
    clock.set(start)
    writes(post_webhook, sandbox, "help", at=start)
    assert replies(sandbox) == [AUTO]
    reply = Message.objects.get(direction="outbound", text=AUTO)
    assert reply.status == "sent" and reply.wamid

    clock.set(start + timedelta(minutes=30))
    writes(post_webhook, sandbox, "I still need support", at=start + timedelta(minutes=30))
    assert replies(sandbox) == [AUTO]

    clock.set(start + timedelta(minutes=61))
    writes(post_webhook, sandbox, "help again", at=start + timedelta(minutes=61))
    assert replies(sandbox) == [AUTO, AUTO]


def test_cooldown_is_per_rule_and_configurable(post_webhook, sandbox, account):
    make_rule(account, cooldown_seconds=0)
    writes(post_webhook, sandbox, "help")
    writes(post_webhook, sandbox, "help")
    assert replies(sandbox) == [AUTO, AUTO]


def test_a_redelivered_message_is_answered_once(post_webhook, sandbox, account):
    make_rule(account, cooldown_seconds=0)
    message = writes(post_webhook, sandbox, "help")
    assert support.handle_message(message, message.contact, account) == []
    assert replies(sandbox) == [AUTO]
    assert SupportFiring.objects.filter(message=message).count() == 1


@pytest.mark.parametrize(
    ("keyword", "text", "answered"),
    [
        ("help", "HELP!", True),
        ("help", "Can you help me?", True),
        ("help", "that was helpful", False),
        ("help", "nohelp", False),
        ("ajuda", "Preciso de AJÚDA, por favor", True),
        ("atención", "necesito ATENCION al cliente", True),
        ("atención", "atencioso", False),
        ("problème", "j'ai un probleme", True),
        ("need help", "I really NEED   help", True),
    ],
)
def test_matching_ignores_case_and_accents_but_needs_whole_words(
    post_webhook, sandbox, account, keyword, text, answered
):
    make_rule(account, trigger_keywords=[keyword], escalate_conditions=[])
    writes(post_webhook, sandbox, text)
    assert replies(sandbox) == ([AUTO] if answered else [])


def test_echoes_and_consent_keywords_are_not_answered(post_webhook, sandbox, account):
    make_rule(account, trigger_keywords=["start", "help"])
    writes(post_webhook, sandbox, "START")  # a consent keyword: its confirmation only
    assert len(replies(sandbox)) == 1 and AUTO not in replies(sandbox)
    echo = Message.objects.create(
        account=account, direction="outbound", type="text", text="help", status="sent"
    )
    assert support.handle_message(echo, None, account) == []
    contact = Message.objects.filter(direction="inbound").first().contact
    assert support.handle_message(echo, contact, account) == []


def test_no_loop_with_another_bot(post_webhook, sandbox, account):
    make_rule(account, cooldown_seconds=0, trigger_keywords=["help", "support", "thank"])
    writes(post_webhook, sandbox, AUTO)  # another bot repeating our answer (contains "support")
    assert replies(sandbox) == []
    for _ in range(support.LOOP_LIMIT + 2):
        writes(post_webhook, sandbox, "help")
    assert replies(sandbox) == [AUTO] * support.LOOP_LIMIT


# -- business hours --------------------------------------------------------------------------------

HOURS = {"timezone": "America/Sao_Paulo", "ranges": [{"days": "mon-fri", "start": "09:00", "end": "18:00"}]}
AWAY = "We are closed now; we answer Monday to Friday, 9:00 to 18:00."


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 12, 7, 13, 0, tzinfo=dt_timezone.utc), AUTO),  # Monday 10:00 in São Paulo
        (datetime(2026, 12, 7, 22, 0, tzinfo=dt_timezone.utc), AWAY),  # Monday 19:00
        (datetime(2026, 12, 6, 13, 0, tzinfo=dt_timezone.utc), AWAY),  # Sunday 10:00
        (datetime(2026, 12, 7, 11, 59, tzinfo=dt_timezone.utc), AWAY),  # Monday 08:59
    ],
)
def test_business_hours_answer_with_the_away_message_outside_them(
    post_webhook, sandbox, account, clock, moment, expected
):
    make_rule(account, business_hours=HOURS, away_message=AWAY)
    clock.set(moment)
    writes(post_webhook, sandbox, "help", at=moment)
    assert replies(sandbox) == [expected]


def test_invalid_business_hours_are_refused():
    for hours in ({"ranges": []}, {"timezone": "Mars/Olympus", "ranges": HOURS["ranges"]},
                  {"ranges": [{"days": "funday", "start": "09:00", "end": "18:00"}]},
                  {"ranges": [{"days": "mon", "start": "18:00", "end": "09:00"}]}):  # fmt: skip
        with pytest.raises(ValueError):
            support.validate_business_hours(hours)


# -- escalation ------------------------------------------------------------------------------------


def test_urgent_escalates_round_robin_fires_the_signal_and_posts_a_signed_webhook(
    post_webhook, sandbox, account, hook_server
):
    organization = account.organization
    first, second = member(organization, "agent", "agent-1"), member(organization, "admin", "admin-2")
    member(organization, "viewer", "viewer-3")  # never assigned
    rule = make_rule(account, webhook_url=hook_server.url)
    seen = []
    signals.conversation_escalated.connect(
        lambda sender, **kwargs: seen.append(kwargs), weak=False, dispatch_uid="t-escalated"
    )
    try:
        writes(post_webhook, sandbox, "This is URGENT", wa_id="972500000011")
        writes(post_webhook, sandbox, "emergência! emergency!", wa_id="972500000012")
        writes(post_webhook, sandbox, "urgent", wa_id="972500000013")
        writes(post_webhook, sandbox, "urgent again", wa_id="972500000011")  # already escalated
    finally:
        signals.conversation_escalated.disconnect(dispatch_uid="t-escalated")

    escalations = list(Escalation.objects.order_by("pk"))
    assert [e.assigned_to for e in escalations] == [first, second, first]
    assert all(e.priority == "urgent" and e.resolved_at is None for e in escalations)
    assert [e.reason for e in escalations] == ["urgent", "emergency", "urgent"]
    assert [kwargs["escalation"] for kwargs in seen] == escalations
    assert seen[0]["rule"] == rule and seen[0]["assigned_to"] == first and seen[0]["account"] == account
    assert AuditEntry.objects.filter(action="conversation.escalate").count() == 3

    assert len(hook_server.received) == 3
    headers, body = hook_server.received[0]
    expected = "sha256=" + hmac.new(rule.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Wacloud-Signature-256"] == expected
    assert headers["Content-Type"] == "application/json"
    payload = json.loads(body)
    assert payload["event"] == "conversation_escalated"
    assert payload["escalation"]["priority"] == "urgent"
    assert payload["escalation"]["assigned_to"] == "agent-1"
    assert payload["conversation"]["contact"] == "972500000011"
    assert payload["message"]["text"] == "This is URGENT"


def test_escalation_goes_to_the_configured_user(post_webhook, sandbox, account):
    member(account.organization, "agent", "agent-1")
    chosen = member(account.organization, "agent", "agent-2")
    make_rule(account, escalate_to=chosen)
    writes(post_webhook, sandbox, "urgent")
    assert Escalation.objects.get().assigned_to == chosen


def test_with_celery_the_webhook_goes_through_the_task(post_webhook, sandbox, account, hook_server):
    from wacloud_django import tasks

    rule = make_rule(account, webhook_url=hook_server.url)
    with (
        mock.patch.object(support, "use_celery", return_value=True),
        mock.patch.object(tasks.deliver_escalation_webhook, "delay") as delay,
    ):
        writes(post_webhook, sandbox, "urgent")
    escalation = Escalation.objects.get(rule=rule)
    delay.assert_called_once_with(escalation.pk)
    assert hook_server.received == []
    assert tasks.deliver_escalation_webhook(escalation.pk) is True  # what the worker runs
    assert len(hook_server.received) == 1


def test_a_failing_webhook_is_retried_boundedly_and_never_blocks(post_webhook, sandbox, account, caplog):
    make_rule(account, webhook_url="http://127.0.0.1:9/closed")  # discard port: refused
    with (
        mock.patch.object(support, "WEBHOOK_BACKOFF", 0),
        mock.patch("urllib.request.urlopen", side_effect=OSError("refused")) as urlopen,
    ):
        writes(post_webhook, sandbox, "urgent help")
    assert urlopen.call_count == support.WEBHOOK_ATTEMPTS
    assert Escalation.objects.count() == 1
    assert replies(sandbox) == [AUTO]  # the auto response went all the same
    assert "gave up" in caplog.text


# -- rules: API, roles, tenancy, audit ---------------------------------------------------------------


def test_seed_body_creates_a_rule_and_get_lists_it(client):
    a = tenant_a()
    api = Api(client, member(a.organization, "marketer"))
    for path in ("workflows/automate", "workflows/automate/"):
        response = api.call("post", path, SEED_BODY)
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["success"] is True and body["workflow"]["type"] == "customer_support"
        assert body["workflow"]["trigger_keywords"] == ["help", "support", "issue"]
        assert body["workflow"]["cooldown_seconds"] == 3600 and len(body["webhook_secret"]) == 64
    rules = SupportRule.objects.filter(organization=a.organization)
    assert rules.count() == 2
    entry = AuditEntry.objects.filter(action="support_rule.create").first()
    assert entry.organization == a.organization and entry.changes["webhook_secret"] == [None, "***"]

    listed = Api(client, member(a.organization, "viewer")).call("get", "workflows/automate")
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == sorted(rules.values_list("pk", flat=True))
    assert "webhook_secret" not in listed.json()["results"][0]


@pytest.mark.parametrize("kind", ["marketing_campaign"])  # appointment_reminder: see its own tests
def test_other_seed_types_check_their_own_parameters(client, kind):
    # Built now (test_campaigns.py): a body without that type's parameters is invalid, not unsupported.
    a = tenant_a()
    response = Api(client, member(a.organization, "admin")).call(
        "post", "workflows/automate", {"type": kind, "parameters": {"template_name": "x"}}
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "VALIDATION_ERROR"
    assert not SupportRule.objects.exists()


def test_invalid_bodies_are_refused(client):
    api = Api(client, member(tenant_a().organization, "admin"))
    for body in (
        {"type": "nonsense", "parameters": {}},
        {"type": "customer_support", "parameters": {}},
        {"type": "customer_support", "parameters": {"trigger_keywords": ["help"]}},
        {
            "type": "customer_support",
            "parameters": {**SEED_BODY["parameters"], "business_hours": {"ranges": 3}},
        },
    ):
        assert api.call("post", "workflows/automate", body).status_code == 400
    assert not SupportRule.objects.exists()


@pytest.mark.parametrize("role", ["viewer", "agent"])
def test_creating_rules_needs_the_marketer_role(client, role):
    a = tenant_a()
    response = Api(client, member(a.organization, role)).call("post", "workflows/automate", SEED_BODY)
    assert response.status_code == 403
    assert not SupportRule.objects.exists()


def test_rules_are_scoped_to_their_organization(client):
    a, b = tenant_a(), tenant_b()
    make_rule(a.account)
    api_b = Api(client, member(b.organization, "admin"))
    assert api_b.call("get", "workflows/automate").json()["results"] == []
    # Naming another tenant's account is a 404, like any of its objects.
    response = api_b.call("post", "workflows/automate", {**SEED_BODY, "account": a.account.phone_number_id})
    assert response.status_code == 404
    # An escalation target outside the organization is refused.
    outsider = member(a.organization, "agent", "outsider")
    body = {**SEED_BODY, "parameters": {**SEED_BODY["parameters"], "escalate_to": outsider.pk}}
    assert api_b.call("post", "workflows/automate", body).status_code == 400
    assert SupportRule.objects.filter(organization=b.organization).count() == 0


def test_a_rule_for_one_account_ignores_the_others(post_webhook, sandbox, account):
    other = BusinessAccount.objects.create(
        organization=account.organization, name="Second", phone_number_id="5550009999", waba_id="555"
    )
    support.create_support_rule(account.organization, SEED_BODY["parameters"], account=other)
    writes(post_webhook, sandbox, "help")
    assert replies(sandbox) == []


def test_rule_changes_are_audited_with_the_secret_masked(account):
    rule = make_rule(account)
    support.update_support_rule(rule, {"cooldown_seconds": 60, "webhook_secret": "new-secret"})
    entry = AuditEntry.objects.get(action="support_rule.update")
    assert entry.changes == {"cooldown_seconds": [3600, 60], "webhook_secret": ["***", "***"]}
    with pytest.raises(ValueError):
        support.update_support_rule(rule, {"organization": None})
