"""WhatsApp Flows from the client: Flow messages, ``client.flows`` on the wire (a stub: the
multipart bodies Meta's spec gives these operations) and against the sandbox's lifecycle,
``FlowError`` for Meta's refusals, and the ``nfm_reply`` of a completed Flow as a dict."""

from __future__ import annotations

import email.parser
import email.policy
import json
from typing import Any

import pytest

import wacloud
from graph_stub import GraphStub, Reply, graph_error
from wacloud import FlowError, InvalidParameter, flow_crypto
from wacloud.messages import Flow
from wacloud.sandbox import spec

TOKEN = "EAAG-secret-token-777"
PHONE_ID = "106540352242922"
WABA_ID = "102290129340398"
FLOW_JSON = {
    "version": "7.0",
    "screens": [
        {
            "id": "START",
            "title": "Hi",
            "terminal": True,
            "layout": {"type": "SingleColumnLayout", "children": []},
        }
    ],
}


@pytest.fixture
def stub():
    with GraphStub() as server:
        yield server


def stub_client(stub: GraphStub) -> wacloud.Client:
    return wacloud.Client(TOKEN, PHONE_ID, waba_id=WABA_ID, base_url=stub.base_url)


def form_of(request: Any) -> dict[str, Any]:
    """A recorded multipart body as {name: text, or (filename, content type, bytes)}."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.body)
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        filename = part.get_filename()
        fields[name] = (filename, part.get_content_type(), payload) if filename else payload.decode()
    return fields


# -- Flow messages ---------------------------------------------------------------------------------
def test_send_flow_sends_metas_interactive_flow(stub):
    stub_client(stub).send_flow(
        "+1 650-555-1234", "Book a table", "Book!", "1234", flow_token="t-9", screen="START", data={"n": 2}
    )
    (request,) = stub.requests
    body = request.json()
    assert body["interactive"] == {
        "type": "flow",
        "body": {"text": "Book a table"},
        "action": {
            "name": "flow",
            "parameters": {
                "flow_message_version": "3",
                "flow_token": "t-9",
                "flow_id": "1234",
                "flow_cta": "Book!",
                "flow_action": "navigate",
                "flow_action_payload": {"screen": "START", "data": {"n": 2}},
            },
        },
    }
    assert spec.operation("sendMessage").check_body(body) == []


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (Flow("Body", "Go"), "flow_id"),
        (Flow("Body", "Go", "1", flow_name="both"), "flow_id"),
        (Flow("Body", "x" * 31, "1"), "flow_cta"),
        (Flow("Body", "Go", "1", flow_action="data_exchange", screen="A"), "screen"),
        (Flow("Body", "Go", "1", data={}), "data"),
        (Flow("Body", "Go", "1", data=["not", "a", "dict"]), "data"),
        (Flow("Body", "Go", "1", mode="live"), "mode"),
        (Flow("", "Go", "1"), "body"),
    ],
)
def test_a_flow_message_meta_would_refuse_is_refused_unsent(stub, message, field):
    with pytest.raises(InvalidParameter) as refused:
        stub_client(stub).send("+16505551234", message)
    assert str(refused.value).startswith(f"{field}: ")
    assert stub.requests == []


def test_the_flow_button_of_a_template_goes_as_metas_raw_component(stub):
    button = {
        "type": "button",
        "sub_type": "flow",
        "index": "0",
        "parameters": [{"type": "action", "action": {"flow_token": "t-1", "flow_action_data": {"a": 1}}}],
    }
    stub_client(stub).send_template("+16505551234", "book_table", "en_US", [button])
    body = stub.requests[0].json()
    assert body["template"]["components"] == [button]
    assert spec.operation("sendMessage").check_body(body) == []


# -- flow management on the wire -------------------------------------------------------------------
def test_create_sends_the_multipart_form_of_metas_spec(stub):
    stub.script(
        "POST", f"/v25.0/{WABA_ID}/flows", Reply(200, {"id": "77", "success": True, "validation_errors": []})
    )
    created = stub_client(stub).flows.create(
        "booking", ["APPOINTMENT_BOOKING", "OTHER"], flow_json=FLOW_JSON, publish=True
    )
    assert created["id"] == "77"
    fields = form_of(stub.requests[0])
    assert fields["name"] == "booking" and json.loads(fields["categories"]) == [
        "APPOINTMENT_BOOKING",
        "OTHER",
    ]
    assert json.loads(fields["flow_json"]) == FLOW_JSON and fields["publish"] == "true"
    assert stub.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    text_fields = {k: v for k, v in fields.items()}
    assert spec.operation("createFlow").check_body(text_fields, "multipart/form-data") == []


def test_update_json_uploads_flow_json_as_a_file(stub):
    answer = {"success": True, "validation_errors": [{"error": "INVALID_PROPERTY", "message": "x"}]}
    stub.script("POST", "/v25.0/77/assets", Reply(200, answer))
    assert stub_client(stub).flows.update_json("77", FLOW_JSON) == answer
    fields = form_of(stub.requests[0])
    filename, content_type, data = fields["file"]
    assert (filename, content_type, json.loads(data)) == ("flow.json", "application/json", FLOW_JSON)
    assert fields["asset_type"] == "FLOW_JSON" and fields["name"] == "flow.json"


def test_list_follows_paging_without_resending_the_token(stub):
    first = {
        "data": [{"id": "1"}],
        "paging": {
            "next": f"https://graph.facebook.com/v25.0/{WABA_ID}/flows?access_token={TOKEN}&limit=1&after=C1"
        },
    }
    stub.script("GET", f"/v25.0/{WABA_ID}/flows", Reply(200, first), Reply(200, {"data": [{"id": "2"}]}))
    assert [f["id"] for f in stub_client(stub).flows.list(limit=1)] == ["1", "2"]
    assert [r.query for r in stub.requests] == ["limit=1", "limit=1&after=C1"]


def test_metrics_and_preview_ask_for_metas_field_expressions(stub):
    metric = {
        "id": "77",
        "metric": {"name": "ENDPOINT_REQUEST_COUNT", "granularity": "DAY", "data_points": []},
    }
    stub.script(
        "GET", "/v25.0/77", Reply(200, metric), Reply(200, {"id": "77", "preview": {"preview_url": "u"}})
    )
    flows = stub_client(stub).flows
    assert (
        flows.metrics("77", "ENDPOINT_REQUEST_COUNT", since="2026-01-01", until="2026-01-31")["data_points"]
        == []
    )
    assert flows.preview_url("77", invalidate=True) == {"preview_url": "u"}
    fields = [r.query for r in stub.requests]
    assert fields == [
        "fields=metric.name(ENDPOINT_REQUEST_COUNT).granularity(DAY).since(2026-01-01).until(2026-01-31)",
        "fields=preview.invalidate(true)",
    ]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda f: f.create("", ["OTHER"]), "name"),
        (lambda f: f.create("x", []), "categories"),
        (lambda f: f.create("x", ["PARTY"]), "categories"),
        (lambda f: f.create("x", "OTHER"), "categories"),
        (lambda f: f.create("x", ["OTHER"], publish=True), "publish"),
        (lambda f: f.create("x", ["OTHER"], endpoint_uri="http://plain.example"), "endpoint_uri"),
        (lambda f: f.update_json("77", "{not json"), "flow_json"),
        (lambda f: f.update_json("77", "[1, 2]"), "flow_json"),
        (lambda f: f.publish("../77"), "flow_id"),
        (lambda f: f.get("77", ["status", "a,b"]), "fields"),
        (lambda f: f.metrics("77", "CPU"), "name"),
        (lambda f: f.metrics("77", "ENDPOINT_REQUEST_COUNT", since="yesterday"), "since"),
        (lambda f: f.update_metadata("77"), "metadata"),
        (lambda f: f.upload_public_key("not a key"), "business_public_key"),
        (lambda f: f.list(limit=0), "limit"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_sent(stub, call, field):
    with pytest.raises(InvalidParameter) as refused:
        call(stub_client(stub).flows)
    assert str(refused.value).startswith(f"{field}: ")
    assert stub.requests == []


def test_flow_calls_without_a_waba_id_say_so(stub):
    client = wacloud.Client(TOKEN, PHONE_ID, base_url=stub.base_url)
    with pytest.raises(InvalidParameter, match="waba_id"):
        client.flows.list()


def test_metas_flow_errors_raise_flow_error(stub):
    refusal = graph_error(
        139002,
        "Invalid parameter",
        error_user_title="Publishing Flow with validation errors",
        error_user_msg="Fix the Flow JSON first.",
    )
    stub.script("POST", "/v25.0/77/publish", Reply(400, refusal))
    with pytest.raises(FlowError) as raised:
        stub_client(stub).flows.publish("77")
    assert raised.value.code == 139002 and not raised.value.retriable
    assert "Publishing Flow with validation errors" in str(raised.value)
    assert isinstance(raised.value, wacloud.GraphAPIError)


# -- against the sandbox ----------------------------------------------------------------------------
def sandbox_client(wa_sandbox: Any) -> wacloud.Client:
    config = wa_sandbox.config
    return wacloud.Client(
        config.access_token, config.phone_number_id, waba_id=config.waba_id, base_url=wa_sandbox.base_url
    )


def test_the_lifecycle_against_the_sandbox(wa_sandbox):
    flows = sandbox_client(wa_sandbox).flows
    flow_id = flows.create("booking", ["APPOINTMENT_BOOKING"])["id"]
    errors = flows.update_json(flow_id, {"version": "7.0", "screens": []})["validation_errors"]
    assert errors and errors[0]["error"] == "MISSING_REQUIRED_PROPERTY"
    with pytest.raises(FlowError) as refused:
        flows.publish(flow_id)
    assert (
        refused.value.code == 139002
        and refused.value.error_user_title == "Publishing Flow with validation errors"
    )
    assert flows.update_json(flow_id, json.dumps(FLOW_JSON)) == {"success": True, "validation_errors": []}
    flows.update_metadata(flow_id, name="table booking", categories=["OTHER"])
    assert [a["name"] for a in flows.assets(flow_id)] == ["flow.json"]
    flows.publish(flow_id)
    got = flows.get(flow_id)
    assert (got["name"], got["status"], got["categories"]) == ("table booking", "PUBLISHED", ["OTHER"])
    assert flows.preview_url(flow_id)["preview_url"].startswith(wa_sandbox.base_url)
    with pytest.raises(FlowError) as undeletable:
        flows.delete(flow_id)
    assert undeletable.value.code == 139004
    flows.deprecate(flow_id)
    assert flows.get(flow_id, ["status"])["status"] == "DEPRECATED"
    draft = flows.create("scratch", ["OTHER"])["id"]
    flows.delete(draft)
    assert [f["id"] for f in flows.list()] == [flow_id]
    assert flows.metrics(flow_id, "ENDPOINT_REQUEST_COUNT") == {
        "name": "ENDPOINT_REQUEST_COUNT",
        "granularity": "DAY",
        "data_points": [],
    }


def test_send_a_flow_and_read_its_completion(wa_sandbox):
    from wacloud.webhook import parse

    client = sandbox_client(wa_sandbox)
    flow_id = client.flows.create("survey", ["SURVEY"], flow_json=FLOW_JSON, publish=True)["id"]
    wa_sandbox.inject_inbound(**{"from": "15550001111"}, type="text", text="hi")
    sent = client.send_flow("+1 555 000 1111", "Tell us", "Start", flow_id, flow_token="survey-7")
    wa_sandbox.complete_flow(sent.message_id, rating="5")
    (delivery,) = wa_sandbox.wait_for_webhooks(kind="message.interactive")
    (event,) = parse(json.dumps(delivery["payload"]).encode())
    assert event.interactive.type == "nfm_reply"
    assert event.interactive.flow_response == {"rating": "5", "flow_token": "survey-7"}
    assert event.interactive.flow_token == "survey-7"
    assert event.context.message_id == sent.message_id


def test_the_public_key_round_trip_against_the_sandbox(wa_sandbox):
    flows = sandbox_client(wa_sandbox).flows
    assert flows.public_key() == {}
    pem = flow_crypto.public_key_pem(flow_crypto.generate_private_key())
    flows.upload_public_key(pem)
    assert flows.public_key() == {"business_public_key": pem, "business_public_key_signature_status": "VALID"}
