"""Access tokens against the sandbox: debug_token results stored, rotation without
downtime (and its refusals), the command, admin and API doors, the expiry warning,
and what test_whatsapp and whatsapp_monitor print."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from io import StringIO

import pytest
from api_support import Api, member, tenant_a, tenant_b
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from wacloud_django import signals
from wacloud_django.models import AccessTokenStatus, AuditEntry, BusinessAccount, Contact, Message
from wacloud_django.services import clients, tokens
from wacloud_django.services.outbound import send_message

pytestmark = pytest.mark.django_db

OLD = "EAAG-test-token"  # conftest's account and sandbox
NEW = "EAAG-rotated-token"
CUSTOMER = "15550001111"
DAY = 24 * 3600


def customer_writes(sandbox, account):
    sandbox.inject_inbound(**{"from": CUSTOMER}, name="Ana", type="text", text="hello")
    Contact.objects.update_or_create(
        account=account, wa_id=CUSTOMER, defaults={"last_inbound_at": timezone.now()}
    )


@pytest.fixture
def expiring():
    """Every token_expiring signal sent, as its keyword arguments."""
    sent = []
    signals.token_expiring.connect(
        lambda sender, **kw: sent.append(kw), weak=False, dispatch_uid="t-expiring"
    )
    yield sent
    signals.token_expiring.disconnect(dispatch_uid="t-expiring")


# -- the service --------------------------------------------------------------------------------


def test_rotation_stores_the_new_token_encrypted_with_metas_answer_and_an_audit_entry(sandbox, account):
    sandbox.add_token(NEW, expires_in=60 * DAY)
    status = tokens.rotate_access_token(account, f"  {NEW}\n")
    account.refresh_from_db()
    assert account.access_token == NEW and NEW not in account.access_token_encrypted
    assert status.fingerprint == tokens.token_fingerprint(NEW) and status.is_valid
    assert status.rotated_at is not None and status.missing_permissions == []
    assert 59 <= tokens.days_left(status.expires_at) <= 60
    entry = AuditEntry.objects.get(action="integration.rotate_token")
    assert entry.object_id == str(account.pk) and entry.organization_id == account.organization_id
    assert entry.changes["access_token"] == ["***", "***"] and NEW not in json.dumps(entry.changes)
    assert tokens.current_status(account) == status


def test_sends_before_and_after_rotation_use_the_right_token_without_a_restart(sandbox, account):
    customer_writes(sandbox, account)
    before = send_message(account, CUSTOMER, "text", "before", enqueue=False)
    in_flight = clients.client_for(account)  # a send that started before the rotation holds this
    sandbox.add_token(NEW)
    tokens.rotate_access_token(account, NEW)

    # Another process loads the account afresh, as every task does.
    after = send_message(BusinessAccount.objects.get(pk=account.pk), CUSTOMER, "text", "after", enqueue=False)
    finishing = in_flight.send_text(CUSTOMER, "started before the rotation")
    assert before.status == after.status == Message.Status.SENT
    fingerprint = sandbox.token_fingerprint
    assert sandbox.message(before.wamid)["token_fingerprint"] == fingerprint(OLD)
    assert sandbox.message(after.wamid)["token_fingerprint"] == fingerprint(NEW)
    assert sandbox.message(finishing.message_id)["token_fingerprint"] == fingerprint(OLD)
    assert clients.client_for(BusinessAccount.objects.get(pk=account.pk)) is not in_flight
    # The old token can now be revoked at Meta: nothing here uses it any more.
    sandbox.add_token(OLD, valid=False)
    later = send_message(BusinessAccount.objects.get(pk=account.pk), CUSTOMER, "text", "later", enqueue=False)
    assert later.status == Message.Status.SENT


@pytest.mark.parametrize(
    ("token", "options", "reason"),
    [
        ("EAAG-expired", {"expires_in": -60}, "expired"),
        ("EAAG-revoked", {"valid": False}, "invalid"),
        ("EAAG-never-issued", None, "invalid"),
        ("EAAG-no-management", {"scopes": ["whatsapp_business_messaging"]}, "missing_permissions"),
        ("EAAG-other-waba", {"waba_ids": ["999999"]}, "wrong_waba"),
        (OLD, None, "unchanged"),
        ("   ", None, "empty"),
        ("EAAG two words", None, "invalid"),
    ],
)
def test_a_bad_token_is_refused_and_the_stored_one_stays(sandbox, account, token, options, reason):
    if options is not None:
        sandbox.add_token(token, **options)
    before = account.access_token_encrypted
    with pytest.raises(tokens.TokenRejected) as caught:
        tokens.rotate_access_token(account, token)
    assert caught.value.reason == reason
    assert isinstance(caught.value, ValueError) and str(caught.value)
    account.refresh_from_db()
    assert account.access_token_encrypted == before and account.access_token == OLD
    assert not AuditEntry.objects.filter(action="integration.rotate_token").exists()
    assert not AccessTokenStatus.objects.exists()


def test_an_expired_token_is_explained_with_its_expiry(sandbox, account):
    sandbox.add_token("EAAG-expired", expires_in=-3600)
    with pytest.raises(tokens.TokenRejected, match="expired on") as caught:
        tokens.rotate_access_token(account, "EAAG-expired")
    assert caught.value.info is not None and caught.value.info.expires_at is not None


def test_granular_scopes_without_target_ids_reach_every_waba(sandbox, account):
    everything = [{"scope": "whatsapp_business_messaging"}, {"scope": "whatsapp_business_management"}]
    sandbox.add_token(NEW, granular_scopes=everything)
    assert tokens.rotate_access_token(account, NEW).is_valid


def test_rotation_replaces_a_token_that_can_no_longer_be_decrypted(sandbox, account):
    BusinessAccount.objects.filter(pk=account.pk).update(access_token_encrypted="wac1:00000000:AAAA")
    account.refresh_from_db()
    sandbox.add_token(NEW)
    tokens.rotate_access_token(account, NEW)
    account.refresh_from_db()
    assert account.access_token == NEW


def test_meta_unreachable_refuses_as_unverifiable(sandbox, account, settings):
    settings.WACLOUD = {**settings.WACLOUD, "BASE_URL": "http://127.0.0.1:9", "REQUEST_TIMEOUT": 2}
    with pytest.raises(tokens.TokenRejected) as caught:
        tokens.rotate_access_token(account, NEW)
    assert caught.value.reason == "unverifiable"
    account.refresh_from_db()
    assert account.access_token == OLD


# -- the command -----------------------------------------------------------------------------


def test_command_reads_the_token_from_stdin(sandbox, account):
    sandbox.add_token(NEW)
    out = StringIO()
    stdin = StringIO(NEW + "\n")
    call_command("whatsapp_rotate_token", account.phone_number_id, "--token-stdin", stdin=stdin, stdout=out)
    assert "rotated: valid, never expires" in out.getvalue() and NEW not in out.getvalue()
    account.refresh_from_db()
    assert account.access_token == NEW
    assert AuditEntry.objects.get(action="integration.rotate_token").source == "command"


def test_command_reads_the_token_from_an_environment_variable(sandbox, account, monkeypatch):
    sandbox.add_token(NEW, expires_in=10 * DAY)
    monkeypatch.setenv("NEW_WA_TOKEN", NEW)
    out = StringIO()
    call_command("whatsapp_rotate_token", account.phone_number_id, "--token-env", "NEW_WA_TOKEN",
                 "--format", "json", stdout=out)  # fmt: skip
    data = json.loads(out.getvalue())
    assert data["rotated"] is True and data["token"]["valid"] and data["token"]["days_left"] in (9, 10)


def test_command_never_takes_the_token_as_an_argument_and_reports_refusals(sandbox, account, monkeypatch):
    with pytest.raises(CommandError):
        call_command("whatsapp_rotate_token", account.phone_number_id, NEW)
    with pytest.raises(CommandError, match="NOPE_UNSET is not set"):
        call_command("whatsapp_rotate_token", account.phone_number_id, "--token-env", "NOPE_UNSET")
    with pytest.raises(CommandError, match="reason: invalid"):
        call_command(
            "whatsapp_rotate_token", account.phone_number_id, "--token-stdin", stdin=StringIO("EAAG-x\n")
        )
    with pytest.raises(CommandError, match="No WhatsApp account"):
        call_command("whatsapp_rotate_token", "111", "--token-stdin", stdin=StringIO(NEW))
    account.refresh_from_db()
    assert account.access_token == OLD


# -- the admin ---------------------------------------------------------------------------------


def test_admin_rotates_through_a_form(sandbox, admin_client, account):
    sandbox.add_token(NEW)
    url = reverse("admin:wacloud_businessaccount_changelist")
    form = admin_client.post(url, {"action": "rotate_token", "_selected_action": [account.pk]})
    assert form.status_code == 200 and b'type="password"' in form.content
    refused = admin_client.post(
        url,
        {"action": "rotate_token", "_selected_action": [account.pk], "apply": "1", "access_token": "EAAG-x"},
    )
    assert refused.status_code == 200 and b"the stored token is unchanged" in refused.content
    done = admin_client.post(
        url, {"action": "rotate_token", "_selected_action": [account.pk], "apply": "1", "access_token": NEW}
    )
    assert done.status_code == 302
    account.refresh_from_db()
    assert account.access_token == NEW
    assert AuditEntry.objects.get(action="integration.rotate_token").source == "admin"


def test_admin_check_action_stores_metas_answer(sandbox, admin_client, account):
    sandbox.add_token(OLD, scopes=["whatsapp_business_messaging"])
    url = reverse("admin:wacloud_businessaccount_changelist")
    response = admin_client.post(
        url, {"action": "check_tokens", "_selected_action": [account.pk]}, follow=True
    )
    assert b"missing permissions: whatsapp_business_management" in response.content
    assert tokens.current_status(account).missing_permissions == ["whatsapp_business_management"]


def test_admin_staff_below_admin_role_cannot_rotate(sandbox, client, account):
    from django.contrib.auth.models import Permission

    sandbox.add_token(NEW)
    staff = member(account.organization, "agent", "staff-agent", is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_businessaccount", "change_businessaccount"])
    )
    client.force_login(staff)
    url = reverse("admin:wacloud_businessaccount_changelist")
    response = client.post(
        url, {"action": "rotate_token", "_selected_action": [account.pk], "apply": "1", "access_token": NEW}
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.access_token == OLD


# -- the API -------------------------------------------------------------------------------------


def test_api_admin_rotates_and_the_detail_shows_the_expiry(sandbox, client):
    a = tenant_a()
    api = Api(client, member(a.organization, "admin"))
    sandbox.add_token(NEW, expires_in=30 * DAY)
    detail = api.get(f"integrations/{a.account.pk}").json()["integration"]
    assert detail["token_expires_at"] is None and detail["token_valid"] is None
    response = api.post(f"integrations/{a.account.pk}/rotate-token", {"access_token": NEW})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] and body["token"]["valid"] and body["token"]["days_left"] in (29, 30)
    assert body["integration"]["token_valid"] is True and body["integration"]["token_expires_at"]
    assert NEW not in response.content.decode()
    a.account.refresh_from_db()
    assert a.account.access_token == NEW
    entry = AuditEntry.objects.get(action="integration.rotate_token")
    assert entry.source == "api" and entry.actor.username == "org-a-admin"
    listed = api.get("integrations").json()["results"]
    assert listed[0]["token_expires_at"] == body["integration"]["token_expires_at"]


def test_api_refusal_is_a_400_with_the_reason(sandbox, client):
    a = tenant_a()
    api = Api(client, member(a.organization, "admin"))
    sandbox.add_token(NEW, waba_ids=["999999"])
    response = api.post(f"integrations/{a.account.pk}/rotate-token", {"access_token": NEW})
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "TOKEN_REJECTED" and body["details"]["reason"] == "wrong_waba"
    missing = api.post(f"integrations/{a.account.pk}/rotate-token", {})
    assert missing.status_code == 400 and missing.json()["error_code"] == "VALIDATION_ERROR"
    a.account.refresh_from_db()
    assert a.account.access_token == OLD


@pytest.mark.parametrize("role", ["viewer", "agent", "marketer"])
def test_api_only_admins_rotate(sandbox, client, role):
    a = tenant_a()
    sandbox.add_token(NEW)
    response = Api(client, member(a.organization, role)).post(
        f"integrations/{a.account.pk}/rotate-token", {"access_token": NEW}
    )
    assert response.status_code == 403 and response.json()["error_code"] == "PERMISSION_DENIED"
    a.account.refresh_from_db()
    assert a.account.access_token == OLD


def test_api_another_tenants_account_is_a_404(sandbox, client):
    a, b = tenant_a(), tenant_b()
    sandbox.add_token(NEW)
    response = Api(client, member(a.organization, "admin")).post(
        f"integrations/{b.account.pk}/rotate-token", {"access_token": NEW}
    )
    assert response.status_code == 404
    b.account.refresh_from_db()
    assert b.account.access_token == OLD


# -- expiry ------------------------------------------------------------------------------------


def test_expiry_warning_logs_and_signals_once_a_day(sandbox, account, expiring, caplog):
    sandbox.add_token(OLD, expires_in=3 * DAY)
    with caplog.at_level(logging.WARNING, logger="wacloud.tokens"):
        first = tokens.check_token_expiry()
    assert first["warned"] == [account.phone_number_id] and first["failed"] == {}
    [sent] = expiring
    assert sent["account"] == account and sent["days_left"] == 2 and sent["valid"] is True
    assert any("expires" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)

    again = tokens.check_token_expiry()  # later the same day: refreshed, not repeated
    assert again["warned"] == [] and len(expiring) == 1

    tomorrow = timezone.now() + timedelta(days=1)
    sandbox.advance_clock(DAY)  # Meta's clock moves with ours
    assert tokens.check_token_expiry(now=tomorrow)["warned"] == [account.phone_number_id]
    assert len(expiring) == 2 and expiring[1]["days_left"] == 1


def test_no_warning_far_from_expiry_or_for_a_token_that_never_expires(sandbox, account, expiring, settings):
    assert tokens.check_token_expiry()["warned"] == []  # never expires
    sandbox.add_token(OLD, expires_in=30 * DAY)
    assert tokens.check_token_expiry() == {"checked": 1, "warned": [], "failed": {}}
    settings.WACLOUD = {**settings.WACLOUD, "TOKEN_EXPIRY_WARNING_DAYS": 31}
    assert tokens.check_token_expiry()["warned"] == [account.phone_number_id]
    assert len(expiring) == 1


def test_an_invalid_token_is_warned_about_and_one_broken_account_blocks_no_other(sandbox, account, expiring):
    broken = BusinessAccount.objects.create(phone_number_id="2233445566", access_token="x", name="Broken")
    BusinessAccount.objects.filter(pk=broken.pk).update(access_token_encrypted="wac1:00000000:AAAA")
    sandbox.add_token(OLD, valid=False)
    run = tokens.check_token_expiry()
    assert run["warned"] == [account.phone_number_id] and set(run["failed"]) == {"2233445566"}
    assert expiring[0]["valid"] is False and expiring[0]["expires_at"] is None


def test_bad_warning_setting_names_itself(sandbox, account, settings):
    from wacloud_django.exceptions import SettingError

    settings.WACLOUD = {**settings.WACLOUD, "TOKEN_EXPIRY_WARNING_DAYS": "soon"}
    with pytest.raises(SettingError, match=r'WACLOUD\["TOKEN_EXPIRY_WARNING_DAYS"\]'):
        tokens.check_token_expiry()


def test_the_beat_task_runs_the_check(sandbox, account, expiring):
    from wacloud_django.tasks import check_token_expiry

    sandbox.add_token(OLD, expires_in=DAY // 2)
    assert check_token_expiry()["warned"] == [account.phone_number_id]
    assert expiring[0]["days_left"] == 0


# -- test_whatsapp and whatsapp_monitor ----------------------------------------------------------


def test_test_whatsapp_reports_validity_expiry_and_missing_permissions(sandbox, account):
    sandbox.add_token(OLD, expires_in=5 * DAY + 60, scopes=["whatsapp_business_messaging"])
    out = StringIO()
    call_command("test_whatsapp", "--test-type", "token", stdout=out)
    text = out.getvalue()
    assert "Access token: valid, expires" in text and "(5 days left)" in text
    assert "missing permissions: whatsapp_business_management" in text
    out = StringIO()
    call_command("test_whatsapp", "--format", "json", stdout=out)  # connectivity includes the token
    data = json.loads(out.getvalue())
    assert data["ok"] and data["verified_name"] and data["token"]["days_left"] == 5
    assert data["token"]["missing_permissions"] == ["whatsapp_business_management"]


def test_monitor_shows_the_stored_answer_and_refreshes_on_demand(sandbox, account):
    out = StringIO()
    call_command("whatsapp_monitor", stdout=out)
    assert f"token      {account.phone_number_id}: not checked yet" in out.getvalue()
    sandbox.add_token(OLD, expires_in=20 * DAY)
    out = StringIO()
    call_command("whatsapp_monitor", "--check-tokens", stdout=out)
    assert f"token      {account.phone_number_id}: valid, expires" in out.getvalue()
    assert "(19 days left)" in out.getvalue()
    sandbox.add_token(OLD, valid=False)  # no network without --check-tokens: the stored answer
    out = StringIO()
    call_command("whatsapp_monitor", "--format", "json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["tokens"][account.phone_number_id]["valid"] is True
    # A token changed outside the rotation (another door) makes the stored answer stale: not shown.
    BusinessAccount.objects.filter(pk=account.pk).update(access_token_encrypted=_encrypted("EAAG-elsewhere"))
    out = StringIO()
    call_command("whatsapp_monitor", stdout=out)
    assert "not checked yet" in out.getvalue()


def _encrypted(token: str) -> str:
    holder = BusinessAccount(access_token=token)
    return holder.access_token_encrypted
