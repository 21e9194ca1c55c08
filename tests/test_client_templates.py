"""Templates by id (Client.get_template, Client.edit_template) on the wire and against the
sandbox, and template sends checked against the template: the client's check (with
``definition=``) and the sandbox answer every case of tests/template_cases.py alike."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import pytest

import wacloud
from graph_stub import GraphStub, Reply
from template_cases import CASES, DEFINITIONS, ORDER_OK
from wacloud import InvalidParameter, TemplateError, TemplateMismatch
from wacloud.sandbox import spec

PHONE_ID = "106540352242922"
TEMPLATE_ID = "920070352646140"
TO = "+16505551234"


@pytest.fixture
def stub():
    with GraphStub() as server:
        yield server


def stub_client(stub: GraphStub) -> wacloud.Client:
    return wacloud.Client("token", PHONE_ID, waba_id="102290129340398", base_url=stub.base_url)


# -- on the wire -------------------------------------------------------------------------------
def test_get_template_asks_for_the_template_node_and_the_fields(stub):
    answer = {"id": TEMPLATE_ID, "name": "order_update", "status": "APPROVED"}
    stub.script("GET", f"/v25.0/{TEMPLATE_ID}", Reply(200, answer), Reply(200, answer))
    client = stub_client(stub)
    assert client.get_template(TEMPLATE_ID) == answer
    assert client.get_template(TEMPLATE_ID, fields=["name", "status"]) == answer
    plain, with_fields = stub.requests_to(f"/v25.0/{TEMPLATE_ID}")
    assert plain.method == "GET" and plain.query == ""
    assert parse_qs(with_fields.query) == {"fields": ["name,status"]}


def test_edit_template_posts_the_new_components_and_category(stub):
    stub.script("POST", f"/v25.0/{TEMPLATE_ID}", Reply(200, {"success": True}))
    components = [{"type": "BODY", "text": "Hi {{1}}, order {{2}} is on its way."}]
    assert stub_client(stub).edit_template(TEMPLATE_ID, components=components, category="marketing") == {
        "success": True
    }
    (request,) = stub.requests_to(f"/v25.0/{TEMPLATE_ID}")
    assert request.method == "POST" and request.headers["content-type"].startswith("application/json")
    assert request.json() == {"category": "MARKETING", "components": components}
    assert spec.operation("editTemplate").check_body(request.json()) == []
    assert spec.operation("editTemplate").check_body({"components": "nope"})  # the judge is not lenient


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda c: c.get_template("12ab"), "template_id"),
        (lambda c: c.get_template(920070352646140), "template_id"),
        (lambda c: c.get_template(TEMPLATE_ID, fields=["name", "bad field"]), "fields"),
        (lambda c: c.edit_template(TEMPLATE_ID), "components, category or both"),
        (lambda c: c.edit_template(TEMPLATE_ID, category="SPAM"), "category"),
        (lambda c: c.edit_template(TEMPLATE_ID, components={"type": "BODY"}), "list"),
        (lambda c: c.edit_template(TEMPLATE_ID, components=[{"text": "no type"}]), "components[0]"),
        (lambda c: c.edit_template(TEMPLATE_ID, components=[{"type": "HEADER", "format": "TEXT"}]), "BODY"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_sent(stub, call, words):
    with pytest.raises(InvalidParameter) as raised:
        call(stub_client(stub))
    assert raised.value.code == 100 and words in str(raised.value)
    assert stub.requests == []


def test_a_send_checked_against_its_definition_is_not_sent_when_it_does_not_fit(stub):
    definition = {**DEFINITIONS["order"], "status": "APPROVED"}
    with pytest.raises(TemplateMismatch) as raised:
        stub_client(stub).send_template(TO, "order_update", "en_US", ORDER_OK[:1], definition=definition)
    assert raised.value.code == 132000 and raised.value.component == "body"
    assert stub.requests == []
    stub_client(stub).send_template(TO, "order_update", "en_US", ORDER_OK, definition=definition)
    (request,) = stub.requests
    assert request.json()["template"]["components"][0]["parameters"][0]["type"] == "image"


# -- against the sandbox ----------------------------------------------------------------------
def sandbox_client(sandbox: Any) -> wacloud.Client:
    config = sandbox.config
    return wacloud.Client(
        config.access_token,
        config.phone_number_id,
        waba_id=config.waba_id,
        base_url=sandbox.base_url,
        max_retries=0,
    )


def create_approved(sandbox: Any, definition: dict[str, Any]) -> str:
    """Create the template through the client (``parameter_format`` included) and approve it."""
    created = sandbox_client(sandbox).create_template(
        definition["name"],
        definition["language"],
        definition["category"],
        definition["components"],
        parameter_format=definition["parameter_format"],
    )
    sandbox.set_template_status(definition["name"], "APPROVED")
    return created["id"]


def test_create_template_sends_the_parameter_format_meta_reads(stub, wa_sandbox):
    created = Reply(200, {"id": "1", "status": "PENDING"})
    stub.script("POST", "/v25.0/102290129340398/message_templates", created)
    body = [{"type": "BODY", "text": "Hi {{first_name}}, welcome.", "example": {"body_text_named_params": [
        {"param_name": "first_name", "example": "Ana"}]}}]  # fmt: skip
    stub_client(stub).create_template("named_hi", "en_US", "UTILITY", body, parameter_format="NAMED")
    sent = stub.requests[-1].json()
    assert sent["parameter_format"] == "NAMED" and sent["components"] == body
    with pytest.raises(InvalidParameter, match="parameter_format"):
        stub_client(stub).create_template("named_hi", "en_US", "UTILITY", body, parameter_format="named")
    # Meta (the sandbox) keeps it: the template reads back NAMED.
    client = sandbox_client(wa_sandbox)
    created = client.create_template("named_hi", "en_US", "UTILITY", body, parameter_format="NAMED")
    assert client.get_template(created["id"], fields=["parameter_format"])["parameter_format"] == "NAMED"


@pytest.mark.wa_sandbox(template_review_seconds=60)
def test_the_sandbox_and_the_clients_check_judge_every_case_alike(wa_sandbox):
    client = sandbox_client(wa_sandbox)
    ids = {key: create_approved(wa_sandbox, definition) for key, definition in DEFINITIONS.items()}
    definitions = {key: client.get_template(template_id) for key, template_id in ids.items()}
    verdicts = []
    for case, template, components, code, *_where in CASES:
        name = DEFINITIONS[template]["name"]
        try:
            client.send_template(TO, name, "en_US", components, definition=definitions[template])
            checked = None
        except TemplateError as error:
            checked = error.code
        try:
            client.send_template(TO, name, "en_US", components)  # unchecked: the sandbox judges
            answered = None
        except TemplateError as error:
            answered = error.code
        verdicts.append((case, checked, answered, code))
    assert [v for v in verdicts if not v[1] == v[2] == v[3]] == []
    fitting = sum(1 for *_rest, code, _c, _i, _k in CASES if code is None)
    assert len(wa_sandbox.sent_messages(to=TO[1:])) == 2 * fitting  # refused sends were never sent


@pytest.mark.wa_sandbox(template_review_seconds=60)
def test_get_then_edit_a_rejected_template_at_the_sandbox(wa_sandbox):
    client = sandbox_client(wa_sandbox)
    created = client.create_template(
        "order_note", "en_US", "UTILITY", [{"type": "BODY", "text": "Order {{1}} ok."}]
    )
    wa_sandbox.reject_template("order_note")
    template = client.get_template(created["id"])
    assert (template["id"], template["name"], template["status"]) == (created["id"], "order_note", "REJECTED")
    assert {"components", "language", "category", "parameter_format"} <= set(template)
    new = [{"type": "BODY", "text": "Your order {{1}} has shipped."}, {"type": "FOOTER", "text": "Thanks"}]
    assert client.edit_template(created["id"], components=new, category="MARKETING") == {"success": True}
    edited = client.get_template(created["id"], fields=["status", "category", "components"])
    assert edited == {"status": "PENDING", "category": "MARKETING", "components": new, "id": created["id"]}


def test_metas_edit_rules_come_back_as_typed_errors(wa_sandbox):
    client = sandbox_client(wa_sandbox)
    hello = next(t for t in client.list_templates() if t["name"] == "hello_world")
    with pytest.raises(InvalidParameter) as raised:  # an approved template keeps its category
        client.edit_template(hello["id"], category="MARKETING")
    assert raised.value.code == 100 and "category of an approved template" in str(raised.value)
    with pytest.raises(wacloud.GraphAPIError) as raised:
        client.get_template("999000111")
    assert raised.value.code == 100 and raised.value.subcode == 33
