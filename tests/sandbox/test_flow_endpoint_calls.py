"""The sandbox as WhatsApp's side of a Flow endpoint: requests encrypted with the uploaded
public key and signed, answers decrypted, Meta's 421/432 statuses, and the Flow's endpoint
metrics counted from those calls."""

from __future__ import annotations

import datetime

import pytest
from flow_support import ENDPOINT_FLOW, EndpointServer, answer_screens, create, form, upload_json

from wacloud import flow_crypto

KEY = flow_crypto.generate_private_key()


@pytest.fixture
def endpoint(wa_sandbox):
    with EndpointServer(KEY, wa_sandbox.config.app_secret, answer_screens).running() as server:
        yield server


def upload_key(graph, key=KEY) -> None:
    pem = flow_crypto.public_key_pem(key)
    assert (
        form(graph, f"/{graph.phone}/whatsapp_business_encryption", {"business_public_key": pem}).status
        == 200
    )


def test_ping_init_and_data_exchange_round_trip(graph, wa_sandbox, endpoint):
    upload_key(graph)
    ping = wa_sandbox.call_flow_endpoint(endpoint.url)
    assert ping["status"] == 200 and ping["response"] == {"data": {"status": "active"}}
    assert ping["request"] == {"version": "3.0", "action": "ping"}
    init = wa_sandbox.call_flow_endpoint(endpoint.url, action="INIT", flow_token="tok-1")
    exchange = wa_sandbox.call_flow_endpoint(
        endpoint.url, action="data_exchange", flow_token="tok-1", screen="START", data={"guests": 2}
    )
    assert init["response"] == {"screen": "DONE", "data": {"seen": {}}}
    assert exchange["response"] == {"screen": "DONE", "data": {"seen": {"guests": 2}}}
    # What the endpoint decrypted is exactly what the sandbox says it sent.
    assert endpoint.requests == [ping["request"], init["request"], exchange["request"]]
    assert exchange["request"] == {
        "version": "3.0",
        "action": "data_exchange",
        "flow_token": "tok-1",
        "screen": "START",
        "data": {"guests": 2},
    }


def test_an_error_notification_carries_error_and_message(graph, wa_sandbox, endpoint):
    upload_key(graph)
    sent = wa_sandbox.call_flow_endpoint(
        endpoint.url,
        action="data_exchange",
        flow_token="t",
        error="invalid-screen",
        error_message="No such screen",
    )
    assert endpoint.requests[-1]["data"] == {"error": "invalid-screen", "error_message": "No such screen"}
    assert sent["status"] == 200


def test_a_key_the_endpoint_cannot_open_is_421_and_a_bad_signature_432(graph, wa_sandbox, endpoint):
    upload_key(graph, flow_crypto.generate_private_key())  # not the endpoint's key
    stale = wa_sandbox.call_flow_endpoint(endpoint.url)
    assert stale["status"] == 421 and stale["response"] is None
    upload_key(graph)
    forged = wa_sandbox.call_flow_endpoint(endpoint.url, secret="not-the-app-secret")
    assert forged["status"] == 432
    unsigned = wa_sandbox.call_flow_endpoint(endpoint.url, sign=False)
    assert unsigned["status"] == 432
    assert endpoint.requests == []


def test_calls_for_a_flow_count_in_its_endpoint_metrics(graph, wa_sandbox, endpoint):
    upload_key(graph)
    flow_id = create(graph).body["id"]
    upload_json(graph, flow_id, ENDPOINT_FLOW)
    assert form(graph, f"/{flow_id}", {"endpoint_uri": "https://shop.example/flows"}).status == 200
    for _ in range(3):
        assert wa_sandbox.call_flow_endpoint(endpoint.url, flow_id=flow_id)["status"] == 200
    upload_key(graph, flow_crypto.generate_private_key())
    assert wa_sandbox.call_flow_endpoint(endpoint.url, flow_id=flow_id)["status"] == 421
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")

    def metric(name: str, granularity: str = "DAY") -> dict:
        field = f"metric.name({name}).granularity({granularity}).since({today}).until({today})"
        return graph.request("GET", f"/{flow_id}?fields={field}").body["metric"]

    (count,) = metric("ENDPOINT_REQUEST_COUNT")["data_points"]
    assert count["timestamp"] == f"{today}T00:00:00+0000" and count["data"] == [{"key": "value", "value": 4}]
    (errors,) = metric("ENDPOINT_REQUEST_ERROR")["data_points"]
    assert errors["data"] == [{"key": "http_421", "value": 1}]
    (rate,) = metric("ENDPOINT_REQUEST_ERROR_RATE", "LIFETIME")["data_points"]
    assert rate["data"] == [{"key": "value", "value": 0.25}]
    (availability,) = metric("ENDPOINT_AVAILABILITY")["data_points"]
    assert availability["data"] == [{"key": "succeeded", "value": 3}, {"key": "failed", "value": 1}]
    (latency,) = metric("ENDPOINT_REQUEST_LATENCY_SECONDS_CEIL")["data_points"]
    assert sum(point["value"] for point in latency["data"]) == 4
    yesterday = (datetime.date.fromisoformat(today) - datetime.timedelta(days=1)).isoformat()
    earlier = f"metric.name(ENDPOINT_REQUEST_COUNT).granularity(DAY).until({yesterday})"
    assert graph.request("GET", f"/{flow_id}?fields={earlier}").body["metric"]["data_points"] == []


def test_the_control_route_and_its_refusals(graph, wa_sandbox, endpoint):
    no_key = graph.control("POST", "/flows/endpoint", {"url": endpoint.url})
    assert no_key.status == 400 and "public key" in no_key.error["error_data"]["details"]
    upload_key(graph)
    answered = graph.control(
        "POST", "/flows/endpoint", {"url": endpoint.url, "action": "INIT", "flow_token": "t"}
    )
    assert answered.body["status"] == 200 and answered.body["response"]["screen"] == "DONE"
    assert graph.control("POST", "/flows/endpoint", {"url": endpoint.url, "action": "INIT"}).status == 400
    assert graph.control("POST", "/flows/endpoint", {"url": endpoint.url, "action": "open"}).status == 400
    assert graph.control("POST", "/flows/endpoint", {"action": "ping"}).status == 400  # no url, no flow
    listed = graph.control("GET", "/flows").body
    assert listed["public_key"] == flow_crypto.public_key_pem(KEY)
