"""Client.debug_token on the wire (a stub) and against the sandbox's /debug_token."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import parse_qs

import pytest

import wacloud
from graph_stub import GraphStub, Reply, graph_error
from wacloud import REQUIRED_TOKEN_SCOPES, AuthenticationError, TokenInfo

TOKEN = "EAAG-secret-token-321"
PHONE_ID = "106540352242922"
WABA_ID = "102290129340398"
META_ANSWER = {
    "data": {
        "app_id": "1234567890",
        "type": "SYSTEM_USER",
        "application": "Shop",
        "data_access_expires_at": 0,
        "expires_at": 1893456000,  # 2030-01-01
        "is_valid": True,
        "issued_at": 1700000000,
        "scopes": ["whatsapp_business_management", "public_profile"],
        "granular_scopes": [{"scope": "whatsapp_business_management", "target_ids": [WABA_ID]}],
        "user_id": "998877",
    }
}


@pytest.fixture
def stub():
    with GraphStub() as server:
        yield server


def test_request_asks_about_the_given_token_with_the_clients_own(stub):
    stub.script("GET", "/v25.0/debug_token", Reply(200, META_ANSWER))
    client = wacloud.Client(TOKEN, PHONE_ID, base_url=stub.base_url)
    info = client.debug_token("EAAG new/token+1")
    (request,) = stub.requests_to("/v25.0/debug_token")
    assert request.method == "GET"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert parse_qs(request.query) == {"input_token": ["EAAG new/token+1"]}
    assert isinstance(info, TokenInfo) and info.valid
    assert info.expires_at == datetime(2030, 1, 1, tzinfo=timezone.utc)
    assert info.data_access_expires_at is None and info.type == "SYSTEM_USER"
    assert info.scopes == ("whatsapp_business_management", "public_profile")
    assert info.missing_permissions == ("whatsapp_business_messaging",)
    assert info.target_ids("whatsapp_business_management") == (WABA_ID,)
    assert info.covers(WABA_ID) and not info.covers("555")


def test_default_input_token_is_the_clients_own(stub):
    stub.script("GET", "/v25.0/debug_token", Reply(200, META_ANSWER))
    wacloud.Client(TOKEN, PHONE_ID, base_url=stub.base_url).debug_token()
    (request,) = stub.requests_to("/v25.0/debug_token")
    assert parse_qs(request.query) == {"input_token": [TOKEN]}


def test_an_error_never_shows_the_input_token(stub):
    secret = "EAAG-other-secret-999"
    stub.script("GET", "/v25.0/debug_token", Reply(400, graph_error(100, f"bad input_token={secret}")))
    client = wacloud.Client(TOKEN, PHONE_ID, base_url=stub.base_url, max_retries=0)
    with pytest.raises(wacloud.GraphAPIError) as caught:
        client.debug_token(secret)
    assert secret not in str(caught.value) and secret not in repr(caught.value)


def test_an_answer_of_another_shape_is_an_error(stub):
    stub.script("GET", "/v25.0/debug_token", Reply(200, {"id": "1"}))
    with pytest.raises(wacloud.GraphAPIError, match="debug_token"):
        wacloud.Client(TOKEN, PHONE_ID, base_url=stub.base_url).debug_token()


def test_bad_input_token_type_raises_type_error(stub):
    with pytest.raises(TypeError):
        wacloud.Client(TOKEN, PHONE_ID, base_url=stub.base_url).debug_token(123)  # type: ignore[arg-type]


# -- against the sandbox ------------------------------------------------------------------------


def sandbox_client(sandbox, token=None, **options):
    config = sandbox.config
    return wacloud.Client(
        token or config.access_token, config.phone_number_id, waba_id=config.waba_id,
        base_url=sandbox.base_url, **options,
    )  # fmt: skip


def test_sandbox_token_is_valid_forever_with_both_permissions_on_its_waba(wa_sandbox):
    info = sandbox_client(wa_sandbox).debug_token()
    assert info.valid and info.expires_at is None and info.missing_permissions == ()
    assert set(REQUIRED_TOKEN_SCOPES) <= set(info.scopes)
    assert info.target_ids("whatsapp_business_messaging") == (wa_sandbox.config.waba_id,)
    assert info.covers(wa_sandbox.config.waba_id)


def test_sandbox_unknown_token_is_invalid_with_metas_error_inside_data(wa_sandbox):
    info = sandbox_client(wa_sandbox).debug_token("EAAG-never-issued")
    assert not info.valid and info.error_code == 190
    assert "Invalid OAuth access token" in info.error_message
    assert info.missing_permissions == REQUIRED_TOKEN_SCOPES


def test_sandbox_second_token_works_until_it_expires_on_the_sandbox_clock(wa_sandbox):
    wa_sandbox.add_token(
        "EAAG-second", expires_in=3600, scopes=["whatsapp_business_messaging"], waba_ids=["42"]
    )
    second = sandbox_client(wa_sandbox, "EAAG-second", max_retries=0)
    info = second.debug_token()
    assert info.valid and info.missing_permissions == ("whatsapp_business_management",)
    assert 3500 < info.seconds_left() <= 3600
    assert not info.covers(wa_sandbox.config.waba_id) and info.covers("42")
    assert second.get_phone_number()["id"] == wa_sandbox.config.phone_number_id  # accepted while valid

    wa_sandbox.advance_clock(3601)
    with pytest.raises(AuthenticationError) as caught:
        second.get_phone_number()
    assert caught.value.code == 190 and caught.value.subcode == 463
    expired = sandbox_client(wa_sandbox).debug_token("EAAG-second")
    assert not expired.valid and expired.expired and expired.error_subcode == 463
    assert expired.expires_at is not None  # Meta still tells when it expired


def test_sandbox_revoked_token_is_refused(wa_sandbox):
    wa_sandbox.add_token("EAAG-revoked")
    wa_sandbox.add_token("EAAG-revoked", valid=False)
    with pytest.raises(AuthenticationError):
        sandbox_client(wa_sandbox, "EAAG-revoked", max_retries=0).get_phone_number()
    info = sandbox_client(wa_sandbox).debug_token("EAAG-revoked")
    assert not info.valid and info.error_code == 190 and not info.expired


def test_sandbox_records_which_token_sent_each_message(wa_sandbox):
    wa_sandbox.inject_inbound(**{"from": "15550001111"}, name="Ana", type="text", text="hi")
    wa_sandbox.add_token("EAAG-second")
    first = sandbox_client(wa_sandbox).send_text("15550001111", "one")
    second = sandbox_client(wa_sandbox, "EAAG-second").send_text("15550001111", "two")
    assert wa_sandbox.message(first.message_id)["token_fingerprint"] == wa_sandbox.token_fingerprint(
        wa_sandbox.config.access_token
    )
    assert wa_sandbox.message(second.message_id)["token_fingerprint"] == wa_sandbox.token_fingerprint(
        "EAAG-second"
    )


def test_sandbox_control_api_lists_fingerprints_never_tokens_and_reset_forgets_extra_tokens(wa_sandbox):
    wa_sandbox.add_token("EAAG-second", type="USER", expires_in=60)
    views = wa_sandbox.tokens()
    assert [v["primary"] for v in views] == [True, False]
    assert "EAAG-second" not in repr(views)
    assert views[1]["type"] == "USER" and views[1]["data_access_expires_at"] > 0 and views[1]["usable"]
    wa_sandbox.reset()
    assert len(wa_sandbox.tokens()) == 1


@pytest.mark.parametrize(
    "options",
    [{"expires_in": "soon"}, {"scopes": "whatsapp"}, {"type": "ROBOT"}, {"valid": "yes"}, {"colour": 1}],
)
def test_sandbox_refuses_bad_token_options(wa_sandbox, options):
    from wacloud.sandbox.graph_errors import GraphError

    with pytest.raises(GraphError):
        wa_sandbox.add_token("EAAG-x", **options)


@pytest.mark.wa_sandbox(tokens={"EAAG-configured": {"expires_in": 120}})
def test_sandbox_config_registers_tokens(wa_sandbox):
    info = sandbox_client(wa_sandbox).debug_token("EAAG-configured")
    assert info.valid and info.expires_at is not None


def test_sandbox_debug_token_needs_input_token(wa_sandbox):
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"{wa_sandbox.base_url}/v25.0/debug_token",
        headers={"Authorization": f"Bearer {wa_sandbox.config.access_token}"},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    with caught.value as response:
        assert response.code == 400
        assert json.loads(response.read())["error"]["code"] == 100
