"""Routing ids read by the C++ core (``_core.webhook_routing``) agree with a full
Python decode of the same body, and the intake no longer decodes bodies in Python."""

from __future__ import annotations

import json

import pytest
from wacloud_test_helpers import PHONE_NUMBER_ID, WABA_ID, dumps, text_message

from wacloud import _core
from wacloud_django.services import webhook_routing
from wacloud_django.services.webhook_auth import RoutedChange, routing_of
from wacloud_django.services.webhook_routing import BodyRouting, change_fields, decode_payload, route_body


def decoded_routing(body: bytes) -> BodyRouting:
    payload, error = decode_payload(body)
    return BodyRouting(routing_of(payload), change_fields(payload), error)


def corpus() -> list[bytes]:
    from fixture_files import all_fixture_paths

    return [path.read_bytes() for path in all_fixture_paths()]


ODD_BUT_READABLE = [
    {"entry": [{"id": 1022901, "changes": [{"field": 7, "value": {"metadata": {"phone_number_id": 0}}}]}]},
    {"entry": [{"changes": [{}, 5, {"field": "", "value": {"metadata": {"phone_number_id": ""}}}]}]},
    {"entry": [{"id": None, "changes": [{"field": None, "value": {"metadata": None}}]}, "x", {"id": "w"}]},
    {"entry": [{"id": -3, "changes": [{"field": 0, "value": {"metadata": {"phone_number_id": 2**64 - 1}}}]}]},
    {"entry": {"id": "not a list"}},
    {"object": "whatsapp_business_account"},
    {"entry": [{"id": "a", "changes": [{"value": {"metadata": {"phone_number_id": "1"}}}] * 3}]},
]
LEFT_TO_PYTHON = [
    b"{not json", b"[1, 2]", b'"text"', b"", b"\xff\xfe", b'{"a": NaN}', b'{"a": "\\ud800"}',
    b'{"entry": []} extra', "\ufeff{}".encode(), b"[" * 50 + b"]" * 50, b'{"a":' * 2000 + b"1" + b"}" * 2000,
    b'{"entry": [{"id": 1.5, "changes": [{}]}]}', b'{"entry": [{"id": true, "changes": [{}]}]}',
    b'{"entry": [{"id": "w", "changes": [{"field": ["x"]}]}]}',
    b'{"entry": [{"id": 1e400, "changes": [{}]}]}',
    b'{"entry": [{"id": 123456789012345678901234567890, "changes": [{}]}]}',
]  # fmt: skip


def test_the_core_reads_every_fixture_as_a_full_decode_does():
    bodies = corpus()
    assert len(bodies) > 50
    for body in bodies:
        assert _core.webhook_routing(body) is not None
        assert route_body(body) == decoded_routing(body), body[:200]


@pytest.mark.parametrize("payload", ODD_BUT_READABLE)
def test_odd_ids_and_shapes_route_as_a_full_decode_does(payload):
    body = json.dumps(payload).encode()
    assert _core.webhook_routing(body) is not None
    assert route_body(body) == decoded_routing(body)


def test_duplicate_keys_route_by_the_last_one_as_python_does():
    body = b'{"entry":[{"id":"1","id":"2","changes":[{"value":{"metadata":{"phone_number_id":"2"}}}]}]}'
    assert _core.webhook_routing(body) is not None
    assert route_body(body).changes == [RoutedChange("2", "2")] == decoded_routing(body).changes


@pytest.mark.parametrize("body", LEFT_TO_PYTHON)
def test_what_the_core_cannot_read_exactly_gets_the_full_decodes_answer(body):
    assert _core.webhook_routing(body) is None
    assert route_body(body) == decoded_routing(body)


def test_malformed_bodies_keep_their_reason():
    assert route_body(b"[1, 2]").error == "expected a JSON object, got list"
    assert route_body(b"\xff\xfe").error == "not UTF-8"
    assert route_body(b"{not json").error.startswith("not valid JSON (Expecting property name")


def test_a_webhook_is_routed_without_decoding_it_in_python(account, post_webhook, monkeypatch):
    from wacloud_django.models import Message

    def no_python_decoding(body):
        raise AssertionError("the intake decoded a routable body in Python")

    monkeypatch.setattr(webhook_routing, "decode_payload", no_python_decoding)
    response = post_webhook(text_message("wamid.routed"))
    assert response.status_code == 200
    assert Message.objects.get(wamid="wamid.routed").account == account
    assert route_body(dumps(text_message("x"))).changes == [RoutedChange(WABA_ID, PHONE_NUMBER_ID)]
