"""WhatsApp Flows in the sandbox: Meta's lifecycle and its errors, the Flow JSON check, the
rules for sending a Flow message, the endpoint key, and the other node routes untouched."""

from __future__ import annotations

import json

import pytest
from flow_support import ENDPOINT_FLOW, VALID_FLOW, create, flow_send, form, published, upload_json
from sandbox_support import USER, assert_valid_error, value_of

from wacloud import flow_crypto
from wacloud.sandbox.graph_errors import GraphError


def flow_error(reply, code: int) -> dict:
    """Meta's Flow management error: ``Invalid parameter`` with a user title and message."""
    error = assert_valid_error(reply, code, 400)
    assert error["message"] == "Invalid parameter" and error["is_transient"] is False
    assert error["error_user_title"] and error["error_user_msg"]
    return error


def status_of(graph, flow_id: str) -> str:
    return graph.request("GET", f"/{flow_id}?fields=status").body["status"]


def test_a_flow_goes_from_draft_to_published_to_deprecated(graph):
    created = create(graph)
    assert created.status == 200 and set(created.body) == {"id"}
    flow_id = created.body["id"]
    assert status_of(graph, flow_id) == "DRAFT"
    # No Flow JSON yet: nothing to publish.
    flow_error(graph.request("POST", f"/{flow_id}/publish"), 139002)
    uploaded = upload_json(graph, flow_id, VALID_FLOW)
    assert uploaded.body == {"success": True, "validation_errors": []}
    assert graph.request("POST", f"/{flow_id}/publish").body == {"success": True}
    assert status_of(graph, flow_id) == "PUBLISHED"
    assert flow_error(graph.request("POST", f"/{flow_id}/publish"), 139002)["error_user_title"] == (
        "Publishing Flow in invalid state"
    )
    # A published Flow and its assets are immutable, and it cannot be deleted.
    flow_error(upload_json(graph, flow_id, VALID_FLOW), 139001)
    flow_error(form(graph, f"/{flow_id}", {"name": "renamed"}), 139001)
    flow_error(graph.request("DELETE", f"/{flow_id}"), 139004)
    assert graph.request("POST", f"/{flow_id}/deprecate").body == {"success": True}
    assert status_of(graph, flow_id) == "DEPRECATED"
    again = flow_error(graph.request("POST", f"/{flow_id}/deprecate"), 139003)
    assert again["error_user_title"] == "Flow is already deprecated"


def test_publishing_is_refused_while_the_flow_json_has_validation_errors(graph):
    flow_id = create(graph).body["id"]
    broken = {**VALID_FLOW, "version": "1.0"}
    assert upload_json(graph, flow_id, broken).body["validation_errors"][0]["error"] == "INVALID_VERSION"
    error = flow_error(graph.request("POST", f"/{flow_id}/publish"), 139002)
    assert error["error_user_title"] == "Publishing Flow with validation errors"
    assert status_of(graph, flow_id) == "DRAFT"
    upload_json(graph, flow_id, VALID_FLOW)
    assert graph.request("POST", f"/{flow_id}/publish").status == 200


def test_only_a_draft_is_deleted(graph):
    flow_id = create(graph).body["id"]
    assert graph.request("DELETE", f"/{flow_id}").body == {"success": True}
    gone = assert_valid_error(graph.request("GET", f"/{flow_id}"), 100, 400)
    assert gone["error_subcode"] == 33
    never = create(graph, "never").body["id"]
    flow_error(graph.request("POST", f"/{never}/deprecate"), 139003)


def test_names_are_unique_and_categories_are_metas(graph):
    assert create(graph).status == 200
    assert "not unique" in assert_valid_error(create(graph), 100, 400)["error_data"]["details"]
    wrong = form(graph, f"/{graph.waba}/flows", {"name": "x", "categories": '["PARTY"]'})
    assert "categories" in assert_valid_error(wrong, 100, 400)["error_data"]["details"]
    missing = form(graph, f"/{graph.waba}/flows", {"name": "y"})
    assert assert_valid_error(missing, 100, 400)["message"] == "(#100) The parameter categories is required."


def test_json_bodies_work_as_well_as_forms_and_create_can_publish(graph):
    body = {"name": "quick", "categories": ["OTHER"], "flow_json": json.dumps(VALID_FLOW), "publish": True}
    created = graph.request("POST", f"/{graph.waba}/flows", body)
    assert created.body["success"] is True and created.body["validation_errors"] == []
    assert status_of(graph, created.body["id"]) == "PUBLISHED"
    bad = {**body, "name": "broken", "flow_json": json.dumps({"version": "7.0", "screens": []})}
    kept = graph.request("POST", f"/{graph.waba}/flows", bad)
    assert kept.body["validation_errors"]  # created, but left a draft
    assert status_of(graph, kept.body["id"]) == "DRAFT"
    # Valid JSON that is not publishable yet (an endpoint Flow without endpoint_uri): a draft too.
    unready = graph.request(
        "POST", f"/{graph.waba}/flows", {**body, "name": "e", "flow_json": json.dumps(ENDPOINT_FLOW)}
    )
    assert unready.status == 200 and status_of(graph, unready.body["id"]) == "DRAFT"


def test_a_clone_starts_as_a_draft_with_the_sources_json(graph):
    source = published(graph)
    clone = create(graph, "booking v2", clone_flow_id=source).body["id"]
    assert status_of(graph, clone) == "DRAFT"
    assert graph.request("POST", f"/{clone}/publish").status == 200
    assert (
        "does not exist"
        in assert_valid_error(create(graph, "v3", clone_flow_id="999"), 100, 400)["error_data"]["details"]
    )


@pytest.mark.parametrize(
    ("flow_json", "error", "near"),
    [
        ({**VALID_FLOW, "colour": "red"}, "INVALID_PROPERTY", '"colour"'),
        ({**VALID_FLOW, "version": "9.9"}, "INVALID_VERSION", '"version"'),
        ({**VALID_FLOW, "data_api_version": "2.0"}, "INVALID_PROPERTY_VALUE", None),
        ({"version": "7.0"}, "MISSING_REQUIRED_PROPERTY", None),
        (
            {**VALID_FLOW, "screens": [VALID_FLOW["screens"][1], VALID_FLOW["screens"][1]]},
            "DUPLICATE_SCREEN_ID",
            None,
        ),
        ({**VALID_FLOW, "screens": [VALID_FLOW["screens"][0]]}, "MISSING_TERMINAL_SCREEN", None),
        (
            {**VALID_FLOW, "screens": [{**VALID_FLOW["screens"][1], "id": "SUCCESS"}]},
            "RESERVED_SCREEN_ID",
            None,
        ),
        ({**VALID_FLOW, "screens": [{**VALID_FLOW["screens"][1], "layout": {}}]}, "INVALID_LAYOUT", None),
        ({**VALID_FLOW, "routing_model": {"START": ["NOWHERE"]}}, "INVALID_ROUTING_MODEL", None),
    ],
)
def test_the_flow_json_check_answers_metas_validation_errors(graph, flow_json, error, near):
    flow_id = create(graph).body["id"]
    reply = upload_json(graph, flow_id, flow_json)
    assert reply.status == 200 and reply.body["success"] is True
    problems = reply.body["validation_errors"]
    assert error in [p["error"] for p in problems], problems
    found = next(p for p in problems if p["error"] == error)
    assert found["error_type"] == "JSON_SCHEMA_ERROR" and found["message"]
    assert {"line_start", "line_end", "column_start", "column_end"} <= set(found)
    if near is not None:  # the spot in the file, as uploaded (indented: one property a line)
        lines = json.dumps(flow_json, indent=2).splitlines()
        line = next(number for number, text in enumerate(lines, 1) if near in text)
        assert (found["line_start"], found["column_start"]) == (line, lines[line - 1].index(near) + 1)
    listed = graph.request("GET", f"/{graph.waba}/flows").body["data"][0]
    assert listed["validation_errors"] == problems


def test_a_file_that_is_not_json_is_139001_and_changes_nothing(graph):
    flow_id = create(graph).body["id"]
    upload_json(graph, flow_id, VALID_FLOW)
    error = flow_error(upload_json(graph, flow_id, b"{not json"), 139001)
    assert error["error_user_title"] == "Error while processing Flow JSON"
    assert graph.request("POST", f"/{flow_id}/publish").status == 200  # the valid JSON stayed


def test_an_endpoint_flow_needs_an_endpoint_uri_and_the_numbers_public_key(graph):
    flow_id = create(graph).body["id"]
    upload_json(graph, flow_id, ENDPOINT_FLOW)
    no_uri = flow_error(graph.request("POST", f"/{flow_id}/publish"), 139002)
    assert "endpoint_uri" in no_uri["error_user_title"]
    assert form(graph, f"/{flow_id}", {"endpoint_uri": "https://shop.example/flows"}).status == 200
    no_key = flow_error(graph.request("POST", f"/{flow_id}/publish"), 139002)
    assert no_key["error_user_title"] == "Missing Flows Signed Public Key"
    pem = flow_crypto.public_key_pem(flow_crypto.generate_private_key())
    form(graph, f"/{graph.phone}/whatsapp_business_encryption", {"business_public_key": pem})
    assert graph.request("POST", f"/{flow_id}/publish").status == 200
    fields = graph.request("GET", f"/{flow_id}?fields=data_api_version,data_channel_uri").body
    assert fields["data_api_version"] == "3.0" and fields["data_channel_uri"] == "https://shop.example/flows"


def test_the_public_key_is_checked_and_answered_back(graph):
    path = f"/{graph.phone}/whatsapp_business_encryption"
    assert graph.request("GET", path).body == {"data": []}
    refused = assert_valid_error(
        form(graph, path, {"business_public_key": "-----BEGIN PUBLIC KEY-----x"}), 100, 400
    )
    assert refused["error_user_title"] == "Invalid Public Key"
    pem = flow_crypto.public_key_pem(flow_crypto.generate_private_key())
    assert form(graph, path, {"business_public_key": pem}).body == {"success": True}
    (key,) = graph.request("GET", path).body["data"]
    assert key == {"business_public_key": pem, "business_public_key_signature_status": "VALID"}
    assert_valid_error(graph.request("GET", f"/{graph.waba}/whatsapp_business_encryption"), 100, 400)


def test_the_other_nodes_still_answer_beside_the_flows(graph):
    flow_id = create(graph).body["id"]
    assert graph.request("GET", f"/{graph.phone}").body["id"] == graph.phone
    assert graph.request("GET", f"/{graph.waba}").body["id"] == graph.waba
    assert graph.request("GET", f"/{flow_id}").body["id"] == flow_id
    assert assert_valid_error(graph.request("DELETE", "/999000111"), 100, 400)["error_subcode"] == 33


def test_listing_pages_with_cursors(graph):
    for name in ("a", "b", "c"):
        create(graph, name)
    first = graph.request("GET", f"/{graph.waba}/flows?limit=2").body
    assert [f["name"] for f in first["data"]] == ["a", "b"]
    after = first["paging"]["cursors"]["after"]
    second = graph.request("GET", f"/{graph.waba}/flows?limit=2&after={after}").body
    assert [f["name"] for f in second["data"]] == ["c"] and "next" not in second["paging"]
    assert set(first["data"][0]) == {"id", "name", "status", "categories", "validation_errors"}


def test_the_preview_link_can_be_renewed(graph):
    flow_id = published(graph)
    link = graph.request("GET", f"/{flow_id}?fields=preview").body["preview"]
    assert link["expires_at"].endswith("+0000")
    same = graph.request("GET", f"/{flow_id}?fields=preview.invalidate(false)").body["preview"]
    renewed = graph.request("GET", f"/{flow_id}?fields=preview.invalidate(true)").body["preview"]
    assert same == link and renewed["preview_url"] != link["preview_url"]
    shown = graph.request("GET", renewed["preview_url"].removeprefix(graph.sandbox.base_url))
    assert shown.body["flow_json"] == VALID_FLOW
    assert graph.request("GET", link["preview_url"].removeprefix(graph.sandbox.base_url)).status == 404


# -- sending a Flow message --------------------------------------------------------------------------
def test_a_flow_message_opens_a_flow_that_exists_and_may_be_sent(graph, wa_sandbox, open_window):
    unknown = assert_valid_error(graph.send(**flow_send({"flow_id": "123"})), 131009, 400)
    assert "does not exist" in unknown["error_data"]["details"]
    draft = create(graph, "draft one").body["id"]
    assert_valid_error(graph.send(**flow_send({"flow_id": draft})), 131009, 400)
    assert graph.send(**flow_send({"flow_name": "draft one"}, mode="draft")).status == 200
    flow_id = published(graph)
    assert graph.send(**flow_send({"flow_id": flow_id}, flow_token="t-1")).status == 200
    empty = flow_send({"flow_id": flow_id}, flow_action_payload={"screen": "START", "data": {}})
    assert_valid_error(graph.send(**empty), 131009, 400)
    graph.request("POST", f"/{flow_id}/deprecate")
    assert (
        "DEPRECATED"
        in assert_valid_error(graph.send(**flow_send({"flow_id": flow_id})), 131009, 400)["error_data"][
            "details"
        ]
    )
    assert len(wa_sandbox.sent_messages(to=USER, type="interactive")) == 2


def test_completing_a_flow_message_sends_its_nfm_reply_with_the_flow_token(graph, wa_sandbox, open_window):
    flow_id = published(graph)
    wamid = graph.send(**flow_send({"flow_id": flow_id}, flow_token="booking-42")).body["messages"][0]["id"]
    wa_sandbox.complete_flow(wamid, guests=2, date="2026-05-01")
    (delivery,) = wa_sandbox.wait_for_webhooks(kind="message.interactive")
    (message,) = value_of(delivery["payload"])["messages"]
    assert message["context"]["id"] == wamid and message["from"] == USER
    reply = message["interactive"]["nfm_reply"]
    assert json.loads(reply["response_json"]) == {
        "guests": 2,
        "date": "2026-05-01",
        "flow_token": "booking-42",
    }
    with pytest.raises(GraphError) as refused:
        wa_sandbox.complete_flow(graph.text().body["messages"][0]["id"])
    assert "not a Flow message" in refused.value.details


def test_flows_and_the_key_survive_a_restart(tmp_path):
    from wacloud.sandbox.state import State

    state = State()
    state.flows["1"] = {"id": "1", "name": "kept", "_order": 1}
    state.flow_public_key = "PEM"
    state.save(tmp_path / "state.json")
    again = State()
    assert again.load(tmp_path / "state.json")
    assert again.flows == state.flows and again.flow_public_key == "PEM"


def test_a_preview_link_expires_after_30_days_on_the_sandbox_clock(graph, wa_sandbox):
    flow_id = published(graph)
    link = graph.request("GET", f"/{flow_id}?fields=preview").body["preview"]
    path = link["preview_url"].removeprefix(graph.sandbox.base_url)
    wa_sandbox.advance_clock(29 * 86400)
    assert graph.request("GET", path).status == 200
    assert graph.request("GET", f"/{flow_id}?fields=preview").body["preview"] == link
    wa_sandbox.advance_clock(86400 + 1)
    assert graph.request("GET", path).status == 404
    renewed = graph.request("GET", f"/{flow_id}?fields=preview").body["preview"]
    assert renewed["preview_url"] != link["preview_url"] and renewed["expires_at"] > link["expires_at"]
