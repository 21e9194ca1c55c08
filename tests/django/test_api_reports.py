"""The REST API's figures (analytics, stats with seed 004's keys), the audit trail of
its writes, its OpenAPI schema and docs page, and the queries its lists make."""

from __future__ import annotations

from datetime import timedelta

import pytest
from api_test_helpers import CUSTOMER, Api, customer_writes, error_of, member
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from wacloud_test_helpers import WABA_ID

from wacloud_django.models import AuditEntry, BusinessAccount, Contact, Conversation, Message, Template

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(account):
    return Api(member(account, "admin"))


# -- analytics, stats ---------------------------------------------------------------------------------


def write(account, conversation, direction, at, text="", status=None):
    return Message.objects.create(
        account=account,
        conversation=conversation,
        contact=conversation.contact,
        direction=direction,
        type="text",
        text=text,
        status=status or ("received" if direction == "inbound" else "delivered"),
        timestamp=at,
    )


@pytest.fixture
def traffic(account):
    """Two conversations with known times. Ana: writes, answered 10 minutes later; writes
    twice more (one turn), answered 20 minutes after the turn began. Bo: an old outbound
    message 10 days ago, then writes an hour ago, unanswered. The average response: 15 min."""
    now = timezone.now()
    ana = Conversation.objects.create(
        account=account, contact=Contact.objects.create(account=account, wa_id=CUSTOMER)
    )
    bo_contact = Contact.objects.create(account=account, wa_id="5511999990002")
    bo = Conversation.objects.create(account=account, contact=bo_contact)
    start = now - timedelta(hours=3)
    write(account, ana, "inbound", start, "hello")
    write(account, ana, "outbound", start + timedelta(minutes=10), "hi")
    turn = now - timedelta(hours=2)
    write(account, ana, "inbound", turn, "one more thing")
    write(account, ana, "inbound", turn + timedelta(minutes=5), "and another")
    write(account, ana, "outbound", turn + timedelta(minutes=20), "sure")
    write(account, bo, "outbound", now - timedelta(days=10), "old news")
    write(account, bo, "inbound", now - timedelta(hours=1), "anyone?")
    return now


def test_stats_has_exactly_seed_004s_keys_and_the_right_numbers(account, api, traffic):
    answer = api.get("stats", {"days": 7}).json()
    assert answer["success"] is True
    assert answer["stats"] == {
        "totalMessages": 6,
        "inboundMessages": 4,
        "outboundMessages": 2,
        "uniqueContacts": 2,
        "ticketsCreated": None,  # the help desk is off (WACLOUD["HELPDESK"]["ENABLED"])
        "avgResponseTime": 15.0,  # minutes
    }
    month = api.get("stats").json()["stats"]  # days=30 by default
    assert (month["totalMessages"], month["outboundMessages"], month["avgResponseTime"]) == (7, 3, 15.0)


@pytest.mark.parametrize("days", ["0", "-1", "week", "99999"])
def test_stats_refuses_a_bad_day_count(account, api, days):
    assert "days" in error_of(api.get("stats", {"days": days}), 400, "VALIDATION_ERROR")["details"]


def test_analytics_over_a_date_range(account, api, traffic):
    today = traffic.date()
    start = (traffic - timedelta(days=1)).date().isoformat()
    answer = api.get("analytics", {"start_date": start, "end_date": today.isoformat()}).json()
    assert answer["success"] is True
    analytics = answer["analytics"]
    assert analytics["period"]["start_date"] == start
    messages = analytics["messages"]
    assert (messages["total"], messages["inbound"], messages["outbound"]) == (6, 4, 2)
    assert messages["unique_contacts"] == 2 and messages["delivery_rate"] == 1.0
    assert analytics["conversations"]["response_time"]["average_seconds"] == 900.0
    assert analytics["contacts"]["total"] == 2
    old = (traffic - timedelta(days=10)).date().isoformat()
    assert (
        api.get("analytics", {"start_date": old, "end_date": old}).json()["analytics"]["messages"]["total"]
        == 1
    )


@pytest.mark.parametrize(
    "params, field",
    [
        ({"start_date": "2024-13-01"}, "start_date"),
        ({"end_date": "31/01/2024"}, "end_date"),
        ({"start_date": "2024-02-01", "end_date": "2024-01-01"}, "start_date"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
    ],
)
def test_analytics_refuses_bad_dates(account, api, params, field):
    assert field in error_of(api.get("analytics", params), 400, "VALIDATION_ERROR")["details"]


# -- audit --------------------------------------------------------------------------------------------


def test_api_writes_are_audited_with_actor_ip_and_masked_secrets(sandbox, account, post_webhook, api):
    body = {"name": "Second", "phone_number_id": "2233445566778", "access_token": "EAAG-second-token",
            "app_secret": "second-secret"}  # fmt: skip
    created = api.post("integrations", body).json()["integration"]
    entry = AuditEntry.objects.get(action="integration.create")
    assert entry.actor == api.user and entry.actor_label == "ana" and entry.source == "api"
    assert entry.ip_address == "127.0.0.1" and entry.object_id == str(created["id"])
    assert entry.changes["access_token"] == [None, "***"] and entry.changes["app_secret"] == [None, "***"]
    assert entry.changes["verify_token"] == [None, "***"]
    assert entry.changes["name"] == [None, "Second"]
    assert "EAAG-second-token" not in str(entry.changes) and "second-secret" not in str(entry.changes)

    api.patch(f"integrations/{created['id']}", {"access_token": "EAAG-rotated"})
    rotated = AuditEntry.objects.get(action="integration.update")
    assert rotated.changes == {"access_token": ["***", "***"]} and rotated.actor == api.user

    contact = Contact.objects.create(account=account, wa_id="5511999990001")
    api.patch(f"contacts/{contact.pk}", {"tags": ["vip"]})
    tagged = AuditEntry.objects.get(action="contact.update")
    assert tagged.changes == {"tags": [[], ["vip"]]} and tagged.actor == api.user

    customer_writes(sandbox, post_webhook)
    text = {"to": CUSTOMER, "type": "text", "content": {"body": "hi"}}
    # Two active accounts now: the sender is named.
    error_of(api.post("send", text), 400, "ACCOUNT_REQUIRED")
    sent = api.post("send", {**text, "account": account.phone_number_id}).json()
    entry = AuditEntry.objects.get(action="message.send")
    assert entry.actor == api.user and entry.object_id == str(sent["id"])

    listed = api.get("audit", {"action": "integration.update"}).json()
    assert [e["changes"] for e in listed["results"]] == [{"access_token": ["***", "***"]}]
    assert listed["results"][0]["actor"] == "ana" and listed["results"][0]["ip_address"] == "127.0.0.1"


# -- schema and docs ----------------------------------------------------------------------------------

OPERATIONS = [
    ("post", "send"),
    ("post", "messages/send"),
    ("get", "conversations"),
    ("get", "conversations/{id}/messages"),
    ("post", "conversations/{id}/read"),
    ("post", "conversations/{id}/assign"),
    ("get", "messages/{whatsapp_id}"),
    ("get", "templates"),
    ("post", "templates"),
    ("post", "templates/sync"),
    ("post", "templates/register"),
    ("get", "templates/{id}"),
    ("patch", "templates/{id}"),
    ("post", "templates/{id}/refresh"),
    ("get", "integrations"),
    ("post", "integrations"),
    ("get", "integrations/{id}"),
    ("patch", "integrations/{id}"),
    ("delete", "integrations/{id}"),
    ("post", "integrations/{id}/toggle"),
    ("post", "integrations/{id}/test"),
    ("get", "contacts"),
    ("post", "contacts"),
    ("get", "contacts/{id}"),
    ("patch", "contacts/{id}"),
    ("post", "media"),
    ("get", "media/{id}"),
    ("get", "analytics"),
    ("get", "stats"),
    ("get", "health"),
    ("get", "audit"),
]


@pytest.fixture
def schema(api):
    response = api.client.get("/whatsapp/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200, response.content[:500]
    import json

    return json.loads(response.content)


def test_schema_is_valid_openapi_3(schema):
    from drf_spectacular.validation import validate_schema

    assert schema["openapi"].startswith("3.")
    validate_schema(schema)


def test_schema_lists_every_operation_once_with_its_shapes(schema):
    paths = schema["paths"]
    assert not [path for path in paths if path.endswith("/") and path.rstrip("/") in paths]
    for method, route in OPERATIONS:
        item = paths.get(f"/whatsapp/{route}")
        assert item is not None and method in item, (method, route, sorted(paths))
        operation = item[method]
        ok = [code for code in operation["responses"] if code.startswith("2")]
        assert ok, (method, route)
        assert "content" in operation["responses"][ok[0]] or method == "delete", (method, route)
    for method, route in [("post", "send"), ("post", "templates"), ("post", "integrations"),
                          ("patch", "contacts/{id}")]:  # fmt: skip
        content = paths[f"/whatsapp/{route}"][method]["requestBody"]["content"]
        assert "application/json" in content, (method, route)
    assert "multipart/form-data" in paths["/whatsapp/media"]["post"]["requestBody"]["content"]
    components = schema["components"]["schemas"]
    assert {"to", "type", "content"} <= set(components["Send"]["properties"])
    send_answer = paths["/whatsapp/send"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert send_answer["$ref"].endswith("/Sent")
    assert "access_token" not in components["Integration"].get("required", [])
    parameters = {p["name"] for p in paths["/whatsapp/conversations"]["get"]["parameters"]}
    assert {"limit", "offset", "status", "unread", "search"} <= parameters


def test_schema_describes_the_token_and_each_operation(schema):
    assert schema["components"]["securitySchemes"]["wacloudToken"]["scheme"] == "bearer"
    assert {"wacloudToken": []} in schema["paths"]["/whatsapp/send"]["post"]["security"]
    descriptions = [op.get("description", "") for item in schema["paths"].values() for op in item.values()]
    assert not [text for text in descriptions if "Subclasses" in text]
    assert "seeds 000 and 004" in schema["paths"]["/whatsapp/send"]["post"]["description"]


def test_docs_page_lists_the_operations(api):
    response = api.client.get("/whatsapp/docs")
    assert response.status_code == 200
    page = response.content.decode()
    for _method, route in OPERATIONS:
        assert f"/whatsapp/{route}" in page, route
    assert "POST" in page and "PATCH" in page and "DELETE" in page


# -- queries per list: constant in the number of rows -------------------------------------------------


def grow(account, count, start):
    """``count`` more contacts, each linked to a user, with a conversation of two messages, and
    ``count`` more templates and integrations."""
    user = get_user_model().objects.create_user(f"host-{start}")
    conversations = []
    for n in range(start, start + count):
        contact = Contact.objects.create(
            account=account,
            wa_id=f"55119{n:08d}",
            name=f"c{n}",
            tags=["t"],
            linked_content_type_id=_content_type_id(),
            linked_object_id=str(user.pk),
        )
        conversation = Conversation.objects.create(
            account=account, contact=contact, last_message_at=timezone.now()
        )
        conversations.append(conversation)
        write(account, conversation, "inbound", timezone.now(), "hi")
        write(account, conversation, "outbound", timezone.now(), "hello")
        Template.objects.create(
            account=account, waba_id=WABA_ID, name=f"t{n}", language="en_US", status="APPROVED"
        )
        BusinessAccount.objects.create(
            organization=account.organization, phone_number_id=f"9{n:012d}", name=f"a{n}"
        )
    # One contact with many messages, for messages/<wa_id> and conversations/<id>/messages.
    busy = Conversation.objects.get(account=account, contact__wa_id="5511900000000")
    for _ in range(count):
        write(account, busy, "inbound", timezone.now(), "more")


def _content_type_id():
    from django.contrib.contenttypes.models import ContentType

    return ContentType.objects.get_for_model(get_user_model()).pk


LISTS = [
    "conversations",
    "contacts",
    "templates",
    "integrations",
    "messages/5511900000000",
    "conversations/{busy}/messages",
]


@pytest.mark.parametrize("route", LISTS)
def test_lists_make_the_same_queries_for_5_and_50_rows(account, api, route, django_assert_max_num_queries):
    grow(account, 5, 0)
    busy = Conversation.objects.get(contact__wa_id="5511900000000").pk
    path = route.format(busy=busy)
    api.get(path)  # the token's first use is written once; not part of the list's cost
    with CaptureQueriesContext(connection) as few:
        answer = api.get(path, {"limit": 500}).json()
    assert answer["count"] >= 5
    grow(account, 45, 5)
    with django_assert_max_num_queries(len(few.captured_queries)):
        answer = api.get(path, {"limit": 500}).json()
    assert answer["count"] >= 50
