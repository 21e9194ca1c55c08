"""Access control of the REST API: who is let in (authentication), what each role may
do (every route and method), what each organization may see (another tenant's rows are
a 404, never a 403, and never listed), trailing slashes, throttles, the
``whatsapp_add_member`` command and the admin's scoping and audit."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from api_support import (
    OTHER_PHONE_NUMBER_ID,
    PNG,
    ROLES,
    Api,
    Tenant,
    error_code,
    listed_ids,
    member,
    tenant_a,
    tenant_b,
)
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from wacloud_django.api import urls as api_urls
from wacloud_django.models import (
    ApiToken,
    AuditEntry,
    BusinessAccount,
    Contact,
    Conversation,
    MediaFile,
    Membership,
    Message,
    Organization,
    Role,
    Template,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_throttles():
    """Throttles count in the cache: each test starts at zero."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def a(db) -> Tenant:
    return tenant_a()


@pytest.fixture
def b(db) -> Tenant:
    return tenant_b()


@pytest.fixture
def live(sandbox, a):
    """The sandbox, with A's contact inside its 24-hour window (free-form sends succeed)."""
    sandbox.inject_inbound(**{"from": a.contact.wa_id}, name="Ana", type="text", text="hi")
    return sandbox


def png_upload(name: str = "pixel.png") -> dict[str, Any]:
    return {"file": SimpleUploadedFile(name, PNG, content_type="image/png")}


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """An error answer in the API's one shape."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    if response.request["REQUEST_METHOD"] == "HEAD":
        assert not response.content  # a HEAD answer has no body to check
        return {}
    body = response.json()
    assert body["success"] is False and body["error_code"] == code, body
    assert isinstance(body["error"], str) and body["error"] and isinstance(body["details"], dict), body
    return body


# -- 1. authentication ---------------------------------------------------------------------------


def test_no_credentials_is_401_with_www_authenticate(client, a):
    response = client.get("/whatsapp/conversations")
    assert_error(response, 401, "AUTHENTICATION_REQUIRED")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Token wac_not-a-real-key",
        "Bearer wac_not-a-real-key",
        "Token",
        "Token wac_one wac_two",
    ],
)
def test_wrong_token_is_401_authentication_failed(client, a, header):
    response = client.get("/whatsapp/conversations", HTTP_AUTHORIZATION=header)
    assert_error(response, 401, "AUTHENTICATION_FAILED")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_bearer_token_of_another_scheme_is_not_ours_to_judge(client, a):
    """Without our prefix the key is left to the project's other schemes (a JWT class);
    with none configured, the caller is simply not authenticated."""
    response = client.get("/whatsapp/conversations", HTTP_AUTHORIZATION="Bearer eyJhbGciOi.x.y")
    assert_error(response, 401, "AUTHENTICATION_REQUIRED")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_expired_token_is_refused(client, a):
    user = member(a.organization, "admin")
    token, key = ApiToken.issue(user)
    assert Api(client, key=key).get("conversations").status_code == 200
    token.expires_at = timezone.now() - timedelta(seconds=1)
    token.save()
    assert_error(Api(client, key=key).get("conversations"), 401, "AUTHENTICATION_FAILED")


def test_revoked_token_is_refused(client, a):
    token, key = ApiToken.issue(member(a.organization, "viewer"))
    token.delete()
    assert_error(Api(client, key=key).get("conversations"), 401, "AUTHENTICATION_FAILED")


@pytest.mark.parametrize("keyword", ["Token", "Bearer", "token", "bearer"])
def test_token_and_bearer_keywords_both_authenticate(client, a, keyword):
    token, key = ApiToken.issue(member(a.organization, "viewer"))
    response = client.get("/whatsapp/conversations", HTTP_AUTHORIZATION=f"{keyword} {key}")
    assert response.status_code == 200, response.content
    assert listed_ids(response) == {a.conversation.pk}
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_session_authentication(client, a):
    client.force_login(member(a.organization, "agent"))
    assert listed_ids(client.get("/whatsapp/contacts")) == {a.contact.pk}
    url = f"/whatsapp/contacts/{a.contact.pk}"
    assert (
        client.patch(url, json.dumps({"name": "By session"}), content_type="application/json").status_code
        == 200
    )
    assert AuditEntry.objects.get(action="contact.update").actor.username == "org-a-agent"
    assert_error(client.get("/whatsapp/audit"), 403, "PERMISSION_DENIED")  # still an agent


def test_session_writes_need_the_csrf_token(a):
    """A browser session cannot be ridden by another site: without the CSRF token, 403."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(member(a.organization, "admin"))
    response = browser.patch(
        f"/whatsapp/contacts/{a.contact.pk}", json.dumps({"name": "x"}), content_type="application/json"
    )
    assert_error(response, 403, "PERMISSION_DENIED")
    a.contact.refresh_from_db()
    assert a.contact.name == "org-a contact"


def test_inactive_users_token_is_refused(client, a):
    user = member(a.organization, "admin")
    api = Api(client, user)
    assert api.get("conversations").status_code == 200
    user.is_active = False
    user.save()
    assert_error(api.get("conversations"), 401, "AUTHENTICATION_FAILED")


def test_inactive_users_session_is_refused(client, a):
    user = member(a.organization, "admin", is_active=False)
    client.force_login(user)
    assert_error(client.get("/whatsapp/conversations"), 401, "AUTHENTICATION_REQUIRED")


def test_user_of_no_organization_is_told_so(client, a):
    loner = get_user_model().objects.create_user("loner")
    assert_error(Api(client, loner).get("conversations"), 400, "ORGANIZATION_REQUIRED")


def test_health_answers_without_credentials_and_tells_nothing(client, a):
    for path in ("/whatsapp/health", "/whatsapp/health/"):
        response = client.get(path)
        assert response.status_code == 200
        body = response.json()
        assert body["success"] is True and body["status"] == "ok"
        assert "accounts" not in body and "organization" not in body


def test_health_shows_a_member_their_own_accounts_only(client, a, b):
    body = Api(client, member(a.organization, "viewer")).get("health").json()
    assert body["organization"] == "org-a"
    assert [row["phone_number_id"] for row in body["accounts"]] == [a.account.phone_number_id]


# -- 2. roles ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One operation: ``path`` names tenant ids as ``{conversation}``, ``{account}``, ...
    ``role`` is the least role that may do it (``None``: anyone, even anonymous);
    ``status`` is what an allowed caller gets from tenant A's data."""

    method: str
    path: str
    role: str | None = "viewer"
    status: int = 200
    body: Callable[[], Any] | None = None
    multipart: bool = False
    #: Part of the tenancy table (an object of another organization is named).
    foreign: bool = False
    note: str = field(default="", compare=False)

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}{' ' + self.note if self.note else ''}"

    def run(self, api: Api, ids: dict[str, Any], slash: bool = False, **extra: Any) -> Any:
        path = self.path.format(**ids)
        if slash:
            path, _, query = path.partition("?")
            path = path + "/" + ("?" + query if query else "")
        body = self.body() if self.body else None
        return api.call(self.method, path, body, multipart=self.multipart, **extra)


def text_to(wa_id: str = "+972500000001") -> dict[str, Any]:
    return {"to": wa_id, "type": "text", "content": {"body": "hello"}}


def ask(wa_id: str) -> dict[str, Any]:
    """Seed 003's confirmation body, asking ``wa_id``."""
    return {"recipient": wa_id, "action_type": "calendar_create", "action_description": "meet John"}


def template_to(wa_id: str = "+972500000001") -> dict[str, Any]:
    return {
        "to": wa_id,
        "type": "template",
        "content": {"name": "hello_world", "language": {"code": "en_US"}},
    }


def new_template() -> dict[str, Any]:
    return {
        "name": "spring_promo",
        "language": "en_US",
        "category": "MARKETING",
        "components": [{"type": "BODY", "text": "Spring is here"}],
    }


CALLS: list[Call] = [
    Call("GET", "health", role=None),
    Call("GET", "schema", role=None),
    Call("GET", "docs", role=None),
    Call("GET", "conversations"),
    Call("GET", "conversations/{conversation}/messages", foreign=True),
    Call("POST", "conversations/{conversation}/read", role="agent", foreign=True),
    Call("POST", "conversations/{conversation}/assign", role="agent", foreign=True,
         body=lambda: {"assignee": None}),
    Call("GET", "messages/{wamid}", foreign=True, note="(a message)"),
    Call("GET", "messages/{wa_id}", foreign=True, note="(a contact's history)"),
    Call("GET", "messages/+{wa_id}", foreign=True, note="(a contact's history, with +)"),
    Call("POST", "send", role="agent", body=text_to, note="(text)"),
    Call("POST", "messages/send", role="agent", body=text_to, note="(text)"),
    Call("POST", "send", role="marketer", body=template_to, note="(template)"),
    Call("POST", "messages/send", role="marketer", body=template_to, note="(template)"),
    Call("GET", "templates"),
    Call("POST", "templates", role="marketer", status=201, body=new_template),
    Call("POST", "templates/sync", role="marketer"),
    Call("POST", "templates/register", role="marketer"),
    Call("GET", "templates/{template}", foreign=True),
    # Never synced, so Meta's id is unknown: the caller is allowed and told why it cannot be.
    Call("PATCH", "templates/{template}", role="marketer", status=400, foreign=True,
         body=lambda: {"category": "MARKETING"}),
    Call("POST", "templates/{template}/refresh", role="marketer", status=400, foreign=True),
    Call("GET", "integrations"),
    Call("POST", "integrations", role="admin", status=201,
         body=lambda: {"name": "New", "phone_number_id": "5550001", "access_token": "EAAG-new"}),
    Call("GET", "integrations/{account}", foreign=True),
    Call("PATCH", "integrations/{account}", role="admin", body=lambda: {"name": "Renamed"}, foreign=True),
    Call("DELETE", "integrations/{account}", role="admin", foreign=True),
    Call("POST", "integrations/{account}/toggle", role="admin", foreign=True),
    Call("POST", "integrations/{account}/test", role="admin", foreign=True),
    Call("POST", "integrations/{account}/rotate-token", role="admin", foreign=True,
         body=lambda: {"access_token": "EAAG-second-valid-token"}),
    Call("POST", "test", role="admin"),
    # The number at Meta (views/numbers.py); unknown QR codes and unrequested codes are Meta's 400.
    Call("POST", "integrations/{account}/request-code", role="admin", foreign=True,
         body=lambda: {"code_method": "SMS", "language": "en_US"}),
    Call("POST", "integrations/{account}/verify-code", role="admin", status=400, foreign=True,
         body=lambda: {"code": "000000"}),
    Call("POST", "integrations/{account}/register", role="admin", foreign=True,
         body=lambda: {"pin": "123456"}),
    Call("POST", "integrations/{account}/deregister", role="admin", foreign=True),
    Call("POST", "integrations/{account}/pin", role="admin", foreign=True, body=lambda: {"pin": "123456"}),
    Call("GET", "integrations/{account}/subscription", role="admin", foreign=True),
    Call("POST", "integrations/{account}/subscription", role="admin", foreign=True),
    Call("DELETE", "integrations/{account}/subscription", role="admin", foreign=True),
    Call("GET", "integrations/{account}/phone-numbers", role="admin", foreign=True),
    Call("GET", "integrations/{account}/qr-codes", role="admin", foreign=True),
    Call("POST", "integrations/{account}/qr-codes", role="admin", status=201, foreign=True,
         body=lambda: {"prefilled_message": "Hi"}),
    Call("GET", "integrations/{account}/qr-codes/{qr_code}", role="admin", status=400, foreign=True),
    Call("PATCH", "integrations/{account}/qr-codes/{qr_code}", role="admin", status=400, foreign=True,
         body=lambda: {"prefilled_message": "Hello"}),
    Call("DELETE", "integrations/{account}/qr-codes/{qr_code}", role="admin", status=400, foreign=True),
    Call("GET", "integrations/{account}/blocked", foreign=True),
    Call("POST", "contacts/{contact}/block", role="agent", foreign=True),
    Call("DELETE", "contacts/{contact}/block", role="agent", foreign=True),
    Call("GET", "analytics/meta"),
    Call("POST", "analytics/meta/import", role="admin", body=lambda: {}),
    Call("GET", "contacts"),
    Call("POST", "contacts", role="agent", status=201, body=lambda: {"wa_id": "+972500000099"}),
    Call("GET", "contacts/{contact}", foreign=True),
    Call("PATCH", "contacts/{contact}", role="agent", body=lambda: {"name": "Renamed"}, foreign=True),
    Call("GET", "contacts/{contact}/consent", foreign=True),
    Call("POST", "contacts/{contact}/consent", role="agent", status=201, foreign=True,
         body=lambda: {"purpose": "marketing", "status": "granted"}),
    Call("GET", "contacts/{contact}/export", role="admin", foreign=True, note="(a zip archive)"),
    Call("POST", "contacts/{contact}/erase", role="admin", foreign=True),
    Call("GET", "media"),
    Call("POST", "media", role="agent", status=201, body=png_upload, multipart=True),
    Call("GET", "media/{media}", foreign=True, note="(by id)"),
    Call("GET", "media/{media_id}", foreign=True, note="(by Meta's id)"),
    Call("GET", "media/{media}?download=1", foreign=True, note="(the file)"),
    Call("GET", "workflows/automate"),
    Call("POST", "workflows/automate", role="marketer", status=201,
         body=lambda: {"type": "customer_support", "parameters": {"trigger_keywords": ["help"],
                                                                 "auto_response": "We are on it."}}),
    Call("GET", "analytics"),
    Call("GET", "stats"),
    Call("GET", "tickets"),
    Call("GET", "tickets/{ticket}", foreign=True),
    Call("PATCH", "tickets/{ticket}", role="agent", body=lambda: {"priority": "high"}, foreign=True),
    Call("GET", "confirmations"),
    Call("POST", "confirmation", role="agent", status=201, body=lambda: ask("+972500000001")),
    Call("GET", "confirmations/{confirmation}", foreign=True),
    Call("POST", "confirmations/{confirmation}/cancel", role="agent", foreign=True),
    Call("GET", "appointments"),
    Call("POST", "appointments", role="marketer", status=201,
         body=lambda: {"wa_id": "+972500000001", "starts_at": "2030-01-01T10:00:00Z"}),
    Call("GET", "appointments/{appointment}", foreign=True),
    Call("PATCH", "appointments/{appointment}", role="marketer", body=lambda: {"title": "Moved"},
         foreign=True),
    Call("DELETE", "appointments/{appointment}", role="marketer", foreign=True),
    Call("GET", "followups"),
    Call("POST", "followups", role="marketer", status=201,
         body=lambda: {"name": "Nudge", "steps": [{"delay_seconds": 60, "text": "Still there?"}]}),
    Call("GET", "followups/{sequence}/enrollments", foreign=True),
    Call("POST", "followups/{sequence}/enrollments", role="marketer", status=201, foreign=True,
         body=lambda: {"wa_id": "+972500000001"}),
    Call("GET", "daily-summaries"),
    Call("POST", "daily-summaries", role="marketer", status=201,
         body=lambda: {"wa_id": "+972500000001", "local_time": "08:00", "timezone": "UTC"}),
    Call("GET", "daily-summaries/{summary}", foreign=True),
    Call("DELETE", "daily-summaries/{summary}", role="marketer", foreign=True),
    Call("GET", "campaigns"),
    Call("POST", "campaigns", role="marketer", status=201,
         body=lambda: {"name": "Spring", "template_name": "org_a_welcome", "audience": "all",
                       "schedule": "draft"}),
    Call("GET", "campaigns/{campaign}", foreign=True),
    Call("POST", "campaigns/{campaign}/pause", role="marketer", foreign=True),
    # A's campaign is scheduled, not paused: the caller is allowed and told why it cannot be.
    Call("POST", "campaigns/{campaign}/resume", role="marketer", status=409, foreign=True),
    Call("POST", "campaigns/{campaign}/cancel", role="marketer", foreign=True),
    Call("GET", "audit", role="admin"),
    Call("HEAD", "audit", role="admin", note="(runs the GET handler)"),
]  # fmt: skip


def _allowed(role: str, least: str | None) -> bool:
    return least is None or Role.rank(role) >= Role.rank(least)


def _state() -> dict[str, Any]:
    """Everything a refused call must leave as it was."""
    return {
        "counts": [
            model.objects.count()
            for model in (AuditEntry, BusinessAccount, Contact, Message, MediaFile, Template, Conversation)
        ],
        "accounts": list(
            BusinessAccount.objects.order_by("pk").values_list("name", "is_active", "archived_at")
        ),
        "contacts": list(Contact.objects.order_by("pk").values_list("name", "tags")),
        "unread": list(Conversation.objects.order_by("pk").values_list("unread_count", flat=True)),
    }


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("call", CALLS, ids=lambda call: call.id)
def test_role_table(client, live, a, call, role):
    api = Api(client, member(a.organization, role))
    before = _state()
    response = call.run(api, a.ids)
    if _allowed(role, call.role):
        assert response.status_code == call.status, response.content[:800]
    else:
        assert_error(response, 403, "PERMISSION_DENIED")
        assert _state() == before, "a refused call changed something"


WRITES = [call for call in CALLS if call.method in ("POST", "PATCH", "DELETE") and not call.multipart]


@pytest.mark.parametrize("body", ["[]", '"text"', "null", "{", "[{}]"])
@pytest.mark.parametrize("call", WRITES, ids=lambda call: call.id)
def test_bodies_that_are_not_objects_never_crash(client, live, a, call, body):
    api = Api(client, member(a.organization, "admin"))
    headers = api.headers()
    method = getattr(client, call.method.lower())
    response = method(
        "/whatsapp/" + call.path.format(**a.ids), body, content_type="application/json", **headers
    )
    assert response.status_code < 500, response.content[:500]
    assert response.json()["success"] is (response.status_code < 400)
    viewer = Api(client, member(a.organization, "viewer")).headers()
    response = method(
        "/whatsapp/" + call.path.format(**a.ids), body, content_type="application/json", **viewer
    )
    assert response.status_code in (400, 403)  # an unreadable body may be refused before the role


def test_the_table_covers_every_route():
    routes = {route for route, _, _ in api_urls._ROUTES}
    placeholders = re.compile(r"<[^>]+>")
    covered = {placeholders.sub("x", re.sub(r"\{[^}]+\}", "x", call.path)) for call in CALLS}
    assert {placeholders.sub("x", route) for route in routes} <= covered


@pytest.mark.parametrize("kind", [None, "text", "TEMPLATE", " template", "template ", ["template"]])
@pytest.mark.parametrize("role", ["viewer", "agent"])
def test_free_form_sends_cannot_pass_as_templates(client, live, a, role, kind):
    """The role bar follows the type actually sent: a template body under another type
    (or none, which means text) is never sent as a template by a role below marketer."""
    api = Api(client, member(a.organization, role))
    body = template_to()
    del body["type"]
    if kind is not None:
        body["type"] = kind
    response = api.post("send", body)
    assert response.status_code in (400, 403)
    assert not Message.objects.filter(type="template").exists()
    assert not live.sent_messages(type="template")


def test_roles_setting_moves_the_bar(client, live, a, settings):
    settings.WACLOUD = {**settings.WACLOUD, "ROLES": {"reply": "marketer"}}
    agent = Api(client, member(a.organization, "agent"))
    marketer = Api(client, member(a.organization, "marketer"))
    assert_error(agent.post("send", text_to()), 403, "PERMISSION_DENIED")
    assert_error(agent.post("contacts", {"wa_id": "+972500000099"}), 403, "PERMISSION_DENIED")
    assert_error(agent.post(f"conversations/{a.conversation.pk}/read"), 403, "PERMISSION_DENIED")
    assert agent.get("conversations").status_code == 200  # reading is still a viewer's
    assert marketer.post("send", text_to()).status_code == 200
    assert marketer.post("contacts", {"wa_id": "+972500000099"}).status_code == 201


def test_roles_setting_can_open_up_too(client, a, settings):
    settings.WACLOUD = {**settings.WACLOUD, "ROLES": {"read_audit": "viewer"}}
    response = Api(client, member(a.organization, "viewer")).get("audit")
    assert a.audit.pk in listed_ids(response)


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS"])
def test_other_methods_do_not_lower_the_bar(client, a, method):
    """HEAD runs the GET handler: it needs what GET needs."""
    api = Api(client, member(a.organization, "viewer"))
    response = api.call(method, "audit")
    assert response.status_code == 403 if method == "HEAD" else response.status_code in (200, 403)
    assert a.audit.action.encode() not in response.content


def test_superuser_is_an_admin_of_every_organization(client, live, a, b):
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    assert_error(Api(client, root).get("audit"), 400, "ORGANIZATION_REQUIRED")
    in_b = Api(client, root, organization="org-b")
    assert listed_ids(in_b.get("audit")) >= {b.audit.pk}
    assert a.audit.pk not in listed_ids(in_b.get("audit"))
    assert in_b.call("PATCH", f"integrations/{b.account.pk}", {"name": "By root"}).status_code == 200


def test_role_changes_apply_to_the_next_request(client, a):
    user = member(a.organization, "admin")
    api = Api(client, user)
    assert api.get("audit").status_code == 200
    Membership.objects.filter(user=user).update(role="viewer")
    assert_error(api.get("audit"), 403, "PERMISSION_DENIED")
    Membership.objects.filter(user=user).delete()
    assert_error(api.get("audit"), 400, "ORGANIZATION_REQUIRED")


# -- 3. tenancy ----------------------------------------------------------------------------------

FOREIGN = [call for call in CALLS if call.foreign]

#: Sends, creates and uploads that name B's account (its phone number id).
B_ACCOUNT = {"account": OTHER_PHONE_NUMBER_ID}
FOREIGN_ACCOUNT: list[Call] = [
    Call("POST", "send", "agent", body=lambda: {**text_to("+972500000002"), **B_ACCOUNT}),
    Call("POST", "messages/send", "marketer",
         body=lambda: {**template_to("+972500000002"), "account": OTHER_PHONE_NUMBER_ID}),
    Call("POST", "confirmation", "agent", body=lambda: {**ask("+972500000002"), **B_ACCOUNT}),
    Call("POST", "contacts", "agent", body=lambda: {"wa_id": "+972500000077", **B_ACCOUNT}),
    Call("POST", "appointments", "marketer",
         body=lambda: {"wa_id": "+972500000002", "starts_at": "2030-01-01T10:00:00Z", **B_ACCOUNT}),
    Call("POST", "campaigns", "marketer",
         body=lambda: {"name": "Spring", "template_name": "org_b_welcome", "audience": "all", **B_ACCOUNT}),
    Call("POST", "templates", "marketer", body=lambda: {**new_template(), "account": OTHER_PHONE_NUMBER_ID}),
    Call("POST", "templates/sync", "marketer", body=lambda: {"account": OTHER_PHONE_NUMBER_ID}),
    Call("POST", "templates/register", "marketer", body=lambda: {"account": OTHER_PHONE_NUMBER_ID}),
    Call("POST", "test", "admin", body=lambda: {"account": OTHER_PHONE_NUMBER_ID}),
    Call("POST", "media", "agent", body=lambda: {**png_upload(), "account": OTHER_PHONE_NUMBER_ID},
         multipart=True),
]  # fmt: skip


@pytest.mark.parametrize("call", FOREIGN, ids=lambda call: call.id)
def test_another_organizations_object_is_404(client, live, a, b, call):
    """Admin of A, the highest role: nothing but the scope can stop them. B's outbound
    wamid and B's contact by number are tried too."""
    api = Api(client, member(a.organization, "admin"))
    before = _state()
    for ids in (b.ids, {**b.ids, "wamid": b.outbound.wamid}):
        assert_error(call.run(api, ids), 404, "NOT_FOUND")
        assert_error(call.run(api, ids, slash=True), 404, "NOT_FOUND")
    assert _state() == before
    # The same call on A's own object works: the 404 is the scope, not a broken route.
    assert call.run(api, a.ids).status_code == call.status


@pytest.mark.parametrize("call", FOREIGN, ids=lambda call: call.id)
def test_another_organizations_object_is_404_for_every_role(client, a, b, call):
    """Never a 403: a viewer of A must not learn that B's object exists either."""
    for role in ROLES:
        api = Api(client, member(a.organization, role))
        response = call.run(api, b.ids)
        assert response.status_code in (403, 404)
        if response.status_code == 403:  # the role alone refuses it, whatever the object
            assert not _allowed(role, call.role)
            assert call.run(api, {key: 999999 for key in b.ids}).status_code == 403


@pytest.mark.parametrize("call", FOREIGN_ACCOUNT, ids=lambda call: call.id)
def test_naming_another_organizations_account_is_404(client, live, a, b, call):
    api = Api(client, member(a.organization, "admin"))
    before = _state()
    assert_error(call.run(api, a.ids), 404, "NOT_FOUND")
    assert _state() == before
    assert not live.sent_messages(to="972500000002")


def test_every_cross_tenant_call_is_refused(client, live, a, b):
    """The whole table at once, for each role of A: refused must be 100%."""
    tried, refused, leaks = 0, 0, []
    for role in ROLES:
        api = Api(client, member(a.organization, role))
        for call in FOREIGN + FOREIGN_ACCOUNT:
            for slash in (False, True):
                response = call.run(api, b.ids, slash=slash)
                tried += 1
                if response.status_code == 404 or (
                    response.status_code == 403 and not _allowed(role, call.role)
                ):
                    refused += 1
                else:
                    leaks.append(f"{role} {call.id}{'/' if slash else ''}: {response.status_code}")
    assert refused == tried, f"refused {refused}/{tried}: {leaks}"


LISTS = {
    "conversations": lambda t: {t.conversation.pk},
    "contacts": lambda t: {t.contact.pk},
    "templates": lambda t: {t.template.pk, t.account_template.pk},
    "integrations": lambda t: {t.account.pk},
    "media": lambda t: {t.media.pk},
    "audit": lambda t: {t.audit.pk},
    "conversations/{conversation}/messages": lambda t: {t.inbound.pk, t.outbound.pk},
    "messages/{wa_id}": lambda t: {t.inbound.pk, t.outbound.pk},
}


@pytest.mark.parametrize("path", list(LISTS))
def test_lists_show_only_the_organizations_rows(client, a, b, path):
    for own, other in ((a, b), (b, a)):
        api = Api(client, member(own.organization, "admin"))
        seen = listed_ids(api.get(path.format(**own.ids), {"limit": 500}))
        assert LISTS[path](own) <= seen
        assert not LISTS[path](other) & seen, f"{path} lists {other.organization.slug}'s rows"


def test_integrations_cannot_take_another_organizations_number(client, a, b):
    api = Api(client, member(a.organization, "admin"))
    taken = {"phone_number_id": OTHER_PHONE_NUMBER_ID}
    assert_error(api.call("PATCH", f"integrations/{a.account.pk}", taken), 400, "VALIDATION_ERROR")
    body = {"name": "Mine now", "access_token": "EAAG-x", **taken}
    assert_error(api.post("integrations", body), 400, "VALIDATION_ERROR")
    b.account.refresh_from_db()
    assert (b.account.organization, b.account.name) == (b.organization, "org-b account")
    assert BusinessAccount.objects.filter(organization=a.organization).count() == 1


def test_a_new_integration_belongs_to_the_callers_organization(client, a, b, both):
    api = Api(client, both, organization="org-a")
    response = api.post(
        "integrations", {"name": "New", "phone_number_id": "5550001", "access_token": "EAAG-n"}
    )
    assert response.status_code == 201
    created = BusinessAccount.objects.get(phone_number_id="5550001")
    assert created.organization == a.organization
    assert "EAAG-n" not in response.content.decode() and "access_token" not in response.json()["integration"]
    entry = AuditEntry.objects.get(action="integration.create")
    assert entry.organization == a.organization and entry.changes["access_token"] == [None, "***"]
    assert created.pk not in listed_ids(Api(client, member(b.organization, "admin")).get("integrations"))


@pytest.mark.parametrize("path", ["conversations", "contacts", "integrations", "media"])
def test_list_filters_cannot_reach_across(client, a, b, path):
    api = Api(client, member(a.organization, "admin"))
    params = {"account": OTHER_PHONE_NUMBER_ID, "search": b.contact.wa_id, "archived": "1"}
    assert not LISTS[path](b) & listed_ids(api.get(path, params))


def test_reports_count_the_organizations_rows_only(client, a, b):
    Message.objects.create(
        account=b.account, wamid="wamid.b-extra", direction="inbound", type="image", status="received"
    )
    api = Api(client, member(a.organization, "viewer"))
    stats = api.get("stats").json()["stats"]
    assert (stats["totalMessages"], stats["inboundMessages"], stats["uniqueContacts"]) == (2, 1, 1)
    analytics = api.get("analytics").json()["analytics"]
    assert analytics["messages"]["total"] == 2 and analytics["messages"]["by_type"] == {"text": 2}
    assert analytics["contacts"]["total"] == 1 and analytics["templates"]["by_status"] == {"APPROVED": 2}
    other = Api(client, member(b.organization, "viewer")).get("stats").json()["stats"]
    assert other["totalMessages"] == 3


def test_template_by_waba_is_visible_to_its_wabas_organization_only(client, a, b):
    api = Api(client, member(a.organization, "viewer"))
    names = {row["name"] for row in api.get("templates").json()["results"]}
    assert names == {"org_a_by_waba", "org_a_welcome"}


@pytest.fixture
def both(a, b):
    """A user who is admin in A and viewer in B."""
    user = member(a.organization, "admin", username="both")
    member(b.organization, "viewer", username="both")
    return user


def test_member_of_two_organizations_must_name_one(client, a, b, both):
    for path in ("conversations", "contacts", "audit"):
        body = assert_error(Api(client, both).get(path), 400, "ORGANIZATION_REQUIRED")
        assert "X-Organization" in body["error"]


@pytest.mark.parametrize("how", ["header", "query", "id"])
@pytest.mark.parametrize("path", ["conversations", "contacts", "templates", "integrations", "media"])
def test_naming_an_organization_shows_only_it(client, a, b, both, how, path):
    key = ApiToken.issue(both)[1]
    for own, other in ((a, b), (b, a)):
        name = str(own.organization.pk) if how == "id" else own.organization.slug
        if how == "query":
            response = Api(client, key=key).get(path, {"organization": name, "limit": 500})
        else:
            response = Api(client, key=key, organization=name).get(path, {"limit": 500})
        seen = listed_ids(response)
        assert LISTS[path](own) <= seen and not LISTS[path](other) & seen


def test_the_role_is_the_named_organizations(client, live, a, b, both):
    key = ApiToken.issue(both)[1]
    in_a, in_b = Api(client, key=key, organization="org-a"), Api(client, key=key, organization="org-b")
    assert in_a.get("audit").status_code == 200
    assert_error(in_b.get("audit"), 403, "PERMISSION_DENIED")
    assert_error(in_b.call("PATCH", f"contacts/{b.contact.pk}", {"name": "x"}), 403, "PERMISSION_DENIED")
    # A's object named while acting in B: not found there.
    assert_error(in_b.get(f"contacts/{a.contact.pk}"), 404, "NOT_FOUND")
    assert in_a.call("PATCH", f"contacts/{a.contact.pk}", {"name": "x"}).status_code == 200


@pytest.mark.parametrize(
    "name",
    ["org-c", "nope", "999999", "0", "-1", "org-a ", "ORG-A", "99999999999999999999999", "²", "\u0661"],
)
def test_naming_an_organization_one_is_not_in_is_like_naming_none(client, a, b, name):
    Organization.objects.create(slug="org-c", name="C")
    user = member(a.organization, "admin")
    via_header = Api(client, user, organization=name).get("conversations")
    via_query = Api(client, user).get("conversations", {"organization": name})
    for response in (via_header, via_query):
        body = assert_error(response, 400, "ORGANIZATION_REQUIRED")
        assert body["error"] == f"no organization {name!r}"


@pytest.mark.parametrize(
    "path",
    ["media/²", "media/\u0661", "media/99999999999999", "media/99999999999999999999999",
     "conversations/99999999999999999999999/messages", "contacts/99999999999999999999999",
     "integrations/99999999999999999999999", "messages/wamid.nope", "messages/+000"],
)  # fmt: skip
def test_odd_ids_are_404_not_500(client, a, path):
    assert_error(Api(client, member(a.organization, "admin")).get(path), 404, "NOT_FOUND")


def test_an_organization_of_the_user_is_found_by_slug_or_id(client, a, b):
    user = member(a.organization, "viewer")
    for name in ("org-a", str(a.organization.pk)):
        assert listed_ids(Api(client, user, organization=name).get("conversations")) == {a.conversation.pk}


# -- 4. trailing slashes -------------------------------------------------------------------------


@pytest.mark.parametrize("slash", [False, True], ids=["no-slash", "slash"])
@pytest.mark.parametrize("call", CALLS, ids=lambda call: call.id)
def test_every_route_answers_with_and_without_slash(client, live, a, call, slash):
    admin_api = Api(client, member(a.organization, "admin"))
    response = call.run(admin_api, a.ids, slash=slash)
    assert response.status_code == call.status, response.content[:500]
    assert "Location" not in response  # no APPEND_SLASH redirect, either way
    if call.role not in (None, "viewer"):
        denied = call.run(Api(client, member(a.organization, "viewer")), a.ids, slash=slash)
        assert_error(denied, 403, "PERMISSION_DENIED")


@pytest.mark.parametrize("path", ["conversations", "send", "contacts", "integrations/1/toggle"])
def test_unauthenticated_answers_alike_with_and_without_slash(client, a, path):
    for url in (f"/whatsapp/{path}", f"/whatsapp/{path}/"):
        assert_error(client.post(url, "{}", content_type="application/json"), 401, "AUTHENTICATION_REQUIRED")


# -- 5. throttling -------------------------------------------------------------------------------


def rates(settings, **values: str) -> None:
    settings.WACLOUD = {**settings.WACLOUD, "API_THROTTLE_RATES": values}


def assert_throttled(response: Any) -> None:
    assert_error(response, 429, "RATE_LIMITED")
    assert int(response["Retry-After"]) >= 1


def test_user_rate(client, a, settings):
    rates(settings, USER="3/minute")
    api = Api(client, member(a.organization, "viewer"))
    for _ in range(3):
        assert api.get("conversations").status_code == 200
    assert_throttled(api.get("contacts"))
    assert int(api.get("contacts")["Retry-After"]) <= 60
    # Another user of the same organization has their own count; health is never throttled.
    assert Api(client, member(a.organization, "agent")).get("conversations").status_code == 200
    assert api.call("GET", "health").status_code == 200


def test_user_rate_counts_per_user_not_per_token(client, a, settings):
    rates(settings, USER="2/minute")
    user = member(a.organization, "viewer")
    first, second = Api(client, user), Api(client, user)
    assert first.get("conversations").status_code == 200
    assert second.get("conversations").status_code == 200
    assert_throttled(Api(client, user).get("conversations"))


def test_organization_rate(client, a, b, settings):
    rates(settings, ORGANIZATION="3/minute")
    users = [Api(client, member(a.organization, role)) for role in ("viewer", "agent", "admin")]
    for api in users:
        assert api.get("conversations").status_code == 200
    assert_throttled(Api(client, member(a.organization, "marketer")).get("conversations"))
    assert Api(client, member(b.organization, "viewer")).get("conversations").status_code == 200


def test_template_create_rate_limits_template_creation_only(client, live, a, settings):
    rates(settings, TEMPLATE_CREATE="1/minute")
    api = Api(client, member(a.organization, "marketer"))
    assert api.post("templates", new_template()).status_code == 201
    assert_throttled(api.post("templates", {**new_template(), "name": "summer_promo"}))
    assert not Template.objects.filter(name="summer_promo").exists()
    for _ in range(3):
        assert api.get("templates").status_code == 200
        assert api.post("contacts", {"wa_id": "+972500000099"}).status_code in (200, 201)
        assert api.call("POST", "media", png_upload(), multipart=True).status_code == 201
    assert api.post("templates/sync").status_code == 200
    # Per user: another marketer may still create one.
    other = Api(client, member(a.organization, "admin"))
    assert other.post("templates", {**new_template(), "name": "autumn_promo"}).status_code == 201


def test_media_upload_rate_limits_uploads_only(client, live, a, settings):
    rates(settings, MEDIA_UPLOAD="1/minute")
    api = Api(client, member(a.organization, "marketer"))
    assert api.call("POST", "media", png_upload(), multipart=True).status_code == 201
    count = MediaFile.objects.count()
    assert_throttled(api.call("POST", "media", png_upload(), multipart=True))
    assert MediaFile.objects.count() == count
    for _ in range(3):
        assert api.get("media").status_code == 200
        assert api.get(f"media/{a.media.pk}").status_code == 200
    assert api.post("templates", new_template()).status_code == 201
    assert api.post("send", text_to()).status_code == 200


def test_refused_calls_do_not_use_the_quota(client, a, settings):
    rates(settings, USER="2/minute")
    api = Api(client, member(a.organization, "viewer"))
    for _ in range(5):
        assert_error(api.get("audit"), 403, "PERMISSION_DENIED")
    assert api.get("conversations").status_code == 200


def test_default_rates_are_generous(client, a):
    api = Api(client, member(a.organization, "viewer"))
    for _ in range(20):
        assert api.get("conversations").status_code == 200


# -- 6. whatsapp_add_member ----------------------------------------------------------------------


def add_member(*args: str) -> str:
    out = io.StringIO()
    call_command("whatsapp_add_member", *args, stdout=out)
    return out.getvalue()


def test_add_member_creates_a_user_whose_token_authenticates(client, a):
    output = add_member("alice", "--create-user", "--role", "agent", "--token", "--organization", "org-a")
    key = re.search(r"API token \(shown once\): (\S+)", output).group(1)
    alice = get_user_model().objects.get(username="alice")
    assert not alice.has_usable_password()
    assert Membership.objects.get(user=alice).role == "agent"
    api = Api(client, key=key)
    assert listed_ids(api.get("conversations")) == {a.conversation.pk}
    assert api.post("contacts", {"wa_id": "+972500000099"}).status_code == 201  # agent
    assert_error(api.get("audit"), 403, "PERMISSION_DENIED")
    # The key is kept as a hash only, and never written to the audit log.
    assert not ApiToken.objects.filter(key_prefix=key).exists()
    assert key not in json.dumps(list(AuditEntry.objects.values("changes", "object_repr")))


def test_add_member_default_organization(client, db):
    output = add_member("bob", "--create-user", "--token")
    key = re.search(r"API token \(shown once\): (\S+)", output).group(1)
    membership = Membership.objects.get(user__username="bob")
    assert (membership.organization.slug, membership.role) == ("default", "agent")
    assert Api(client, key=key).get("conversations").status_code == 200


def test_add_member_creates_the_named_organization(db):
    output = add_member("carol", "--create-user", "--role", "admin", "--organization", "acme",
                        "--organization-name", "Acme")  # fmt: skip
    assert "carol is admin in acme (added)" in output and "API token" not in output
    acme = Organization.objects.get(slug="acme")
    assert acme.name == "Acme"
    assert Membership.objects.get(user__username="carol", organization=acme).role == "admin"
    assert AuditEntry.objects.filter(action="organization.create", organization=acme).exists()


def test_add_member_unknown_organization_without_name_is_an_error(db):
    get_user_model().objects.create_user("dave")
    with pytest.raises(CommandError, match="organization-name"):
        add_member("dave", "--organization", "nowhere")
    assert not Organization.objects.filter(slug="nowhere").exists()
    assert not Membership.objects.exists()


def test_add_member_unknown_user_is_an_error(db):
    with pytest.raises(CommandError, match="--create-user"):
        add_member("nobody", "--role", "viewer", "--token")
    assert not get_user_model().objects.filter(username="nobody").exists()
    assert not ApiToken.objects.exists() and not Membership.objects.exists()
    assert not AuditEntry.objects.filter(action="member.add").exists()


def test_add_member_is_audited(db):
    get_user_model().objects.create_user("erin")
    add_member("erin", "--role", "marketer", "--organization", "acme", "--organization-name", "Acme")
    entry = AuditEntry.objects.get(action="member.add")
    assert (entry.source, entry.organization.slug, entry.object_type) == (
        "command",
        "acme",
        "wacloud.Membership",
    )
    assert entry.changes == {"user": [None, "erin"], "role": [None, "marketer"]}
    add_member("erin", "--role", "viewer", "--organization", "acme")
    assert Membership.objects.get(user__username="erin").role == "viewer"
    assert AuditEntry.objects.filter(action="member.role").count() == 1
    assert Membership.objects.filter(user__username="erin").count() == 1


def test_add_member_rejects_unknown_roles(db):
    with pytest.raises(CommandError):
        add_member("frank", "--create-user", "--role", "owner")
    assert not get_user_model().objects.filter(username="frank").exists()


# -- 7. the admin --------------------------------------------------------------------------------


@pytest.fixture
def staff_of_a(a, b):
    user = member(a.organization, "admin", username="staff-a", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="wacloud"))
    return user


ADMIN_LISTS = {
    "contact": lambda t: {t.contact.pk},
    "message": lambda t: {t.inbound.pk, t.outbound.pk},
    "businessaccount": lambda t: {t.account.pk},
    "conversation": lambda t: {t.conversation.pk},
    "template": lambda t: {t.template.pk, t.account_template.pk},
    "mediafile": lambda t: {t.media.pk},
    "ticket": lambda t: {t.ticket.pk},
}


@pytest.mark.parametrize("model", list(ADMIN_LISTS))
def test_admin_changelists_show_the_staffs_organization_only(client, a, b, staff_of_a, model):
    client.force_login(staff_of_a)
    response = client.get(reverse(f"admin:wacloud_{model}_changelist"))
    assert response.status_code == 200
    seen = {row.pk for row in response.context["cl"].result_list}
    assert seen == ADMIN_LISTS[model](a)


@pytest.mark.parametrize("model", ["contact", "businessaccount", "conversation", "message"])
def test_admin_change_page_of_another_organization_is_not_shown(client, a, b, staff_of_a, model):
    client.force_login(staff_of_a)
    other = {"contact": b.contact, "businessaccount": b.account, "conversation": b.conversation,
             "message": b.inbound}[model]  # fmt: skip
    response = client.get(reverse(f"admin:wacloud_{model}_change", args=[other.pk]))
    assert response.status_code in (302, 404)
    assert b"org-b" not in response.content


def test_admin_superuser_sees_every_organization(admin_client, a, b):
    response = admin_client.get(reverse("admin:wacloud_contact_changelist"))
    assert {row.pk for row in response.context["cl"].result_list} == {a.contact.pk, b.contact.pk}


def account_form(account: BusinessAccount, **changes: str) -> dict[str, str]:
    form = {
        "name": account.name, "phone_number_id": account.phone_number_id, "waba_id": account.waba_id,
        "display_phone_number": account.display_phone_number, "app_id": "", "api_version": "",
        "is_active": "on", "rate_limit_per_second": "", "rate_limit_per_hour": "", "access_token": "",
        "app_secret": "", "verify_token": "",
    }  # fmt: skip
    form.update(changes)
    return form


def test_admin_save_is_audited_with_secrets_masked(client, a, b, staff_of_a):
    client.force_login(staff_of_a)
    url = reverse("admin:wacloud_businessaccount_change", args=[a.account.pk])
    form = account_form(a.account, name="Renamed", access_token="EAAG-brand-new", app_secret="new-secret",
                        verify_token="new-verify")  # fmt: skip
    assert client.post(url, form).status_code == 302
    entry = AuditEntry.objects.get(action="businessaccount.update")
    assert (entry.source, entry.actor, entry.organization) == ("admin", staff_of_a, a.organization)
    assert entry.object_id == str(a.account.pk)
    assert entry.changes["name"] == ["org-a account", "Renamed"]
    for secret in ("access_token", "app_secret", "verify_token"):
        assert entry.changes[secret][1] == "***"
    text = json.dumps(entry.changes)
    for secret in ("EAAG-brand-new", "new-secret", "new-verify", "EAAG-test-token"):
        assert secret not in text
    a.account.refresh_from_db()
    assert a.account.access_token == "EAAG-brand-new"


def test_admin_contact_save_is_audited(client, a, b, staff_of_a):
    client.force_login(staff_of_a)
    url = reverse("admin:wacloud_contact_change", args=[a.contact.pk])
    page = client.get(url)
    assert page.status_code == 200
    form = {key: value for key, value in page.context["adminform"].form.initial.items() if value is not None}
    form.update({"account": a.account.pk, "wa_id": a.contact.wa_id, "name": "Edited", "tags": '["vip"]',
                 "profile": "{}"})  # fmt: skip
    response = client.post(url, form)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    entry = AuditEntry.objects.get(action="contact.update")
    assert entry.changes["name"] == ["org-a contact", "Edited"]
    assert (entry.actor, entry.organization) == (staff_of_a, a.organization)


def test_admin_add_is_audited_with_secrets_masked(admin_client, db):
    url = reverse("admin:wacloud_businessaccount_add")
    form = account_form(BusinessAccount(name="New", phone_number_id="555"), access_token="EAAG-added",
                        app_secret="added-secret")  # fmt: skip
    assert admin_client.post(url, form).status_code == 302
    entry = AuditEntry.objects.get(action="businessaccount.create")
    assert entry.changes["access_token"] == [None, "***"] and entry.changes["app_secret"] == [None, "***"]
    assert "EAAG-added" not in json.dumps(entry.changes) and "added-secret" not in json.dumps(entry.changes)


def test_admin_cannot_save_another_organizations_row(client, a, b, staff_of_a):
    client.force_login(staff_of_a)
    url = reverse("admin:wacloud_businessaccount_change", args=[b.account.pk])
    client.post(url, account_form(b.account, name="Hijacked"))
    b.account.refresh_from_db()
    assert b.account.name == "org-b account"
    assert not AuditEntry.objects.filter(action="businessaccount.update").exists()


def test_claiming_another_organizations_waba_does_not_show_its_templates(client, a, b):
    """Templates known by WABA only are B's: an admin of A who types B's WABA id into A's
    account must not see them (in the API or the admin)."""
    api = Api(client, member(a.organization, "admin"))
    response = api.call("PATCH", f"integrations/{a.account.pk}", {"business_account_id": b.account.waba_id})
    assert response.status_code in (200, 400)
    assert not LISTS["templates"](b) & listed_ids(api.get("templates"))
    # B still sees the templates of its accounts.
    assert b.account_template.pk in listed_ids(Api(client, member(b.organization, "viewer")).get("templates"))


def test_admin_cannot_move_a_row_into_another_organizations_account(client, a, b, staff_of_a):
    client.force_login(staff_of_a)
    url = reverse("admin:wacloud_contact_change", args=[a.contact.pk])
    page = client.get(url)
    form = {key: value for key, value in page.context["adminform"].form.initial.items() if value is not None}
    form.update({"account": b.account.pk, "wa_id": a.contact.wa_id, "name": "Moved", "tags": "[]",
                 "profile": "{}"})  # fmt: skip
    response = client.post(url, form)
    assert response.status_code == 200 and "account" in response.context["adminform"].form.errors
    a.contact.refresh_from_db()
    assert a.contact.account == a.account


def test_a_reply_cannot_quote_another_organizations_message(client, a, b):
    api = Api(client, member(a.organization, "marketer"))
    body = {"to": a.contact.wa_id, "type": "template", "reply_to": b.inbound.wamid,
            "content": {"name": "hello_world", "language": {"code": "en_US"}}}  # fmt: skip
    response = api.call("POST", "send", body)
    message = Message.objects.filter(account=a.account, reply_to_wamid=b.inbound.wamid).first()
    assert message is not None, response.content
    assert message.reply_to_id is None  # B's row is not linked to A's message


def test_contacts_cannot_be_linked_to_wacloud_rows(client, a, b):
    api = Api(client, member(a.organization, "agent"))
    link = {"linked_object": {"model": "wacloud.contact", "id": str(b.contact.pk)}}
    response = api.call("PATCH", f"contacts/{a.contact.pk}", link)
    assert response.status_code == 400 and error_code(response) == "INVALID_PARAMETER"
