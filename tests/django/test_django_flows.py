"""WhatsApp Flows in the Django app: the data-exchange endpoint (Meta's encryption, 421 for a
request it cannot decrypt, 432 for a bad signature, 427 for a refused flow token, the host's
FLOWS_HANDLER, the flow_request_received signal), the endpoint called by the sandbox playing
WhatsApp, completed Flows stored and announced (flow_completed), Flow messages sent, and the
key command."""

from __future__ import annotations

import json
import os
import stat
from io import StringIO

import flow_handlers
import pytest
from django.core.management import CommandError, call_command
from wacloud_test_helpers import APP_SECRET, GLOBAL_APP_SECRET, PHONE_NUMBER_ID, USER, dumps, envelope, sign

from wacloud import flow_crypto
from wacloud_django import signals
from wacloud_django.models import Message

KEY = flow_crypto.generate_private_key()
PEM = flow_crypto.private_key_pem(KEY)
URL = "/whatsapp/flows/endpoint/"


@pytest.fixture
def flows_settings(settings):
    settings.WACLOUD = {**settings.WACLOUD, "FLOWS_PRIVATE_KEY": PEM, "FLOWS_HANDLER": "flow_handlers.handle"}
    flow_handlers.seen.clear()
    return settings


@pytest.fixture
def received():
    sent = []
    for signal in (signals.flow_request_received, signals.flow_completed):
        signal.connect(
            lambda sender, signal=signal, **kw: sent.append((signal, kw)), weak=False, dispatch_uid="t"
        )
    yield sent
    for signal in (signals.flow_request_received, signals.flow_completed):
        signal.disconnect(dispatch_uid="t")


def call(client, payload: dict, *, secret: str | None = APP_SECRET, public_key=None, url: str = URL):
    """POST a request as WhatsApp does; returns (response, its decrypted body or None)."""
    body, aes_key, iv = flow_crypto.encrypt_request(payload, public_key or KEY.public_key())
    raw = dumps(body)
    headers = {"HTTP_X_HUB_SIGNATURE_256": sign(secret, raw)} if secret else {}
    response = client.post(url, data=raw, content_type="application/json", **headers)
    answer = None
    if response.status_code == 200:
        answer = flow_crypto.decrypt_response(response.content, aes_key, iv)
    return response, answer


# -- the endpoint ---------------------------------------------------------------------------------
def test_ping_is_answered_active_without_the_handler(client, account, flows_settings, received):
    response, answer = call(client, {"version": "3.0", "action": "ping"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    assert answer == {"data": {"status": "active"}}
    assert flow_handlers.seen == []
    ((signal, sent),) = received
    assert signal is signals.flow_request_received and sent["request"].action == "ping"


def test_init_and_data_exchange_go_to_the_handler(client, account, flows_settings, received):
    _, first = call(client, {"version": "3.0", "action": "INIT", "flow_token": "booking-1"})
    assert first == {"screen": "START", "data": {"tables": ["patio", "window"]}}
    exchange = {"version": "3.0", "action": "data_exchange", "screen": "START", "data": {"guests": 4}}
    _, done = call(client, {**exchange, "flow_token": "booking-1"})
    assert done["screen"] == "SUCCESS"
    assert done["data"]["extension_message_response"]["params"] == {"flow_token": "booking-1", "guests": 4}
    init, data_exchange = flow_handlers.seen
    assert (init.action, init.flow_token, init.account) == ("INIT", "booking-1", None)
    assert (data_exchange.screen, data_exchange.data, data_exchange.version) == (
        "START",
        {"guests": 4},
        "3.0",
    )
    assert [kw["response"] for _, kw in received] == [first, done]


def test_an_error_notification_is_acknowledged_and_not_given_to_the_handler(
    client, account, flows_settings, received, caplog
):
    error = {"error": "INVALID_SCREEN_TRANSITION", "error_message": "No screen DONE"}
    payload = {"version": "3.0", "action": "data_exchange", "flow_token": "t", "data": error}
    _, answer = call(client, payload)
    assert answer == {"data": {"acknowledged": True}}
    assert flow_handlers.seen == []
    request = received[0][1]["request"]
    assert (request.error, request.error_message) == ("INVALID_SCREEN_TRANSITION", "No screen DONE")
    assert "INVALID_SCREEN_TRANSITION" in caplog.text


def test_a_request_for_another_key_is_421_so_whatsapp_fetches_the_key_again(client, account, flows_settings):
    other = flow_crypto.generate_private_key()
    response, _ = call(client, {"version": "3.0", "action": "ping"}, public_key=other.public_key())
    assert response.status_code == 421 and response.content == b""
    junk = b'{"encrypted_flow_data": "x"}'
    garbage = client.post(URL, data=junk, content_type="application/json",
                          HTTP_X_HUB_SIGNATURE_256=sign(APP_SECRET, junk))  # fmt: skip
    assert garbage.status_code == 421


@pytest.mark.parametrize("secret", [None, "forged-secret"], ids=["unsigned", "forged"])
def test_a_bad_signature_is_432_and_nothing_is_decrypted(client, account, flows_settings, received, secret):
    response, _ = call(client, {"version": "3.0", "action": "INIT", "flow_token": "t"}, secret=secret)
    assert response.status_code == 432
    assert flow_handlers.seen == [] and received == []


def test_the_global_secret_signs_on_the_shared_url_but_not_for_an_account(client, account, flows_settings):
    assert call(client, {"version": "3.0", "action": "ping"}, secret=GLOBAL_APP_SECRET)[0].status_code == 200
    own = f"{URL}{PHONE_NUMBER_ID}/"
    assert (
        call(client, {"version": "3.0", "action": "ping"}, secret=GLOBAL_APP_SECRET, url=own)[0].status_code
        == 432
    )
    response, _ = call(client, {"version": "3.0", "action": "INIT", "flow_token": "t"}, url=own)
    assert response.status_code == 200 and flow_handlers.seen[-1].account == account
    assert client.post(f"{URL}999/", data=b"{}", content_type="application/json").status_code == 404


def test_a_refused_flow_token_is_427(client, account, flows_settings):
    response, _ = call(client, {"version": "3.0", "action": "INIT", "flow_token": "expired"})
    assert response.status_code == 427


def test_configuration_and_handler_failures_are_500(client, account, flows_settings, caplog):
    flows_settings.WACLOUD = {**flows_settings.WACLOUD, "FLOWS_HANDLER": "flow_handlers.broken"}
    assert call(client, {"version": "3.0", "action": "INIT", "flow_token": "t"})[0].status_code == 500
    assert 'WACLOUD["FLOWS_HANDLER"] must return a dict' in caplog.text
    flows_settings.WACLOUD = {**flows_settings.WACLOUD, "FLOWS_HANDLER": None}
    assert call(client, {"version": "3.0", "action": "INIT", "flow_token": "t"})[0].status_code == 500
    assert call(client, {"version": "3.0", "action": "ping"})[0].status_code == 200  # ping needs no handler
    flows_settings.WACLOUD = {**flows_settings.WACLOUD, "FLOWS_PRIVATE_KEY": None}
    assert call(client, {"version": "3.0", "action": "ping"})[0].status_code == 500
    assert 'WACLOUD["FLOWS_PRIVATE_KEY"] is not set' in caplog.text


def test_the_private_key_may_be_a_file_and_encrypted(client, account, flows_settings, tmp_path):
    path = tmp_path / "flows.pem"
    path.write_text(flow_crypto.private_key_pem(KEY, "pass phrase"))
    flows_settings.WACLOUD = {
        **flows_settings.WACLOUD,
        "FLOWS_PRIVATE_KEY": str(path),
        "FLOWS_PRIVATE_KEY_PASSWORD": "pass phrase",
    }
    assert call(client, {"version": "3.0", "action": "ping"})[1] == {"data": {"status": "active"}}


def test_only_post_is_served(client, flows_settings):
    assert client.get(URL).status_code == 405


# -- WhatsApp's side played by the sandbox, over HTTP ----------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_the_sandbox_calls_the_endpoint_as_whatsapp_does(live_server, sandbox, account, flows_settings):
    from wacloud_django.services.flows import upload_public_key

    held = upload_public_key(account)  # the configured key's public half, through the client
    assert held["business_public_key_signature_status"] == "VALID"
    url = f"{live_server.url}{URL}{PHONE_NUMBER_ID}/"
    assert sandbox.call_flow_endpoint(url)["response"] == {"data": {"status": "active"}}
    answered = sandbox.call_flow_endpoint(url, action="INIT", flow_token="booking-9")
    assert answered["status"] == 200 and answered["response"]["screen"] == "START"
    flows_settings.WACLOUD = {**flows_settings.WACLOUD, "FLOWS_PRIVATE_KEY": flow_crypto.private_key_pem(
        flow_crypto.generate_private_key())}  # fmt: skip
    assert sandbox.call_flow_endpoint(url)["status"] == 421  # a rotated key not uploaded yet


# -- completed Flows ----------------------------------------------------------------------------------------
def nfm_reply(wamid: str, response_json: str) -> dict:
    message = {
        "from": USER,
        "id": wamid,
        "timestamp": "1697043223",
        "type": "interactive",
        "context": {"from": "972123456789", "id": "wamid.FLOWSENT"},
        "interactive": {
            "type": "nfm_reply",
            "nfm_reply": {"response_json": response_json, "body": "Sent", "name": "flow"},
        },
    }
    return envelope({"messages": [message], "contacts": [{"profile": {"name": "Ana"}, "wa_id": USER}]})


def test_a_completed_flow_is_stored_readable_and_announced_once(account, post_webhook, received):
    answers = {"guests": "4", "flow_token": "booking-1"}
    assert post_webhook(nfm_reply("wamid.DONE1", json.dumps(answers))).status_code == 200
    message = Message.objects.get(wamid="wamid.DONE1")
    assert message.flow_response == answers
    ((signal, sent),) = received
    assert signal is signals.flow_completed
    assert (sent["message"], sent["response"], sent["flow_token"]) == (message, answers, "booking-1")
    assert sent["account"] == account and sent["contact"].wa_id == USER
    post_webhook(nfm_reply("wamid.DONE1", json.dumps(answers)))  # Meta's retry: stored once, announced once
    assert len(received) == 1


def test_a_completion_without_a_json_object_is_kept_and_announced_empty(account, post_webhook, received):
    post_webhook(nfm_reply("wamid.DONE2", "not json"))
    assert Message.objects.get(wamid="wamid.DONE2").flow_response is None
    assert received[0][1]["response"] == {} and received[0][1]["flow_token"] is None


def test_other_messages_have_no_flow_response(account, post_webhook, received):
    from wacloud_test_helpers import text_message

    post_webhook(text_message("wamid.TEXT"))
    assert Message.objects.get(wamid="wamid.TEXT").flow_response is None and received == []


# -- sending Flow messages -------------------------------------------------------------------------------
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


def published_flow(sandbox) -> str:
    import wacloud

    config = sandbox.config
    client = wacloud.Client(config.access_token, config.phone_number_id, waba_id=config.waba_id,
                            base_url=sandbox.base_url)  # fmt: skip
    return client.flows.create("booking", ["OTHER"], flow_json=FLOW_JSON, publish=True)["id"]


def test_send_message_sends_a_flow(sandbox, account, post_webhook):
    from api_test_helpers import CUSTOMER, customer_writes

    from wacloud_django.services.outbound import send_message

    flow_id = published_flow(sandbox)
    customer_writes(sandbox, post_webhook)
    content = {
        "body": "Book",
        "flow_cta": "Book!",
        "flow_id": flow_id,
        "flow_token": "b-1",
        "screen": "START",
    }
    message = send_message(account, CUSTOMER, "flow", content, enqueue=False)
    assert message.status == Message.Status.SENT and message.text == "Book"
    (sent,) = sandbox.sent_messages(to=CUSTOMER, type="interactive")
    parameters = sent["payload"]["interactive"]["action"]["parameters"]
    assert (parameters["flow_id"], parameters["flow_token"]) == (flow_id, "b-1")
    assert parameters["flow_action_payload"] == {"screen": "START"}


def test_the_rest_api_sends_metas_interactive_flow(sandbox, account, post_webhook):
    from api_test_helpers import CUSTOMER, Api, customer_writes, error_of, member

    flow_id = published_flow(sandbox)
    customer_writes(sandbox, post_webhook)
    api = Api(member(account, "admin"))
    interactive = {
        "type": "flow",
        "header": {"type": "text", "text": "Tables"},
        "body": {"text": "Book a table"},
        "action": {
            "name": "flow",
            "parameters": {
                "flow_message_version": "3",
                "flow_id": flow_id,
                "flow_cta": "Book!",
                "flow_token": "b-2",
                "flow_action_payload": {"screen": "START", "data": {"guests": 2}},
            },
        },
    }
    answer = api.post("send", {"to": CUSTOMER, "type": "interactive", "content": interactive}).json()
    assert answer["success"] is True, answer
    (sent,) = sandbox.sent_messages(to=CUSTOMER, type="interactive")
    parameters = {**interactive["action"]["parameters"], "flow_action": "navigate"}  # Meta's default, said
    expected = {**interactive, "action": {"name": "flow", "parameters": parameters}}
    assert sent["payload"]["interactive"] == expected
    incomplete = {**interactive, "action": {"name": "flow", "parameters": {"flow_id": flow_id}}}
    details = error_of(api.post("send", {"to": CUSTOMER, "type": "interactive", "content": incomplete}), 400,
                       "VALIDATION_ERROR")["details"]  # fmt: skip
    assert "flow_cta" in str(details)


# -- the key command ----------------------------------------------------------------------------------------
def test_generate_writes_a_private_key_only_its_owner_reads(tmp_path, monkeypatch):
    out = StringIO()
    path = tmp_path / "flows.pem"
    monkeypatch.setenv("FLOWS_KEY_PASSWORD", "s3cret")
    call_command("whatsapp_flows_key", "generate", "--out", str(path), "--password-env", "FLOWS_KEY_PASSWORD",
                 stdout=out)  # fmt: skip
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    key = flow_crypto.load_private_key(path.read_text(), "s3cret")
    assert flow_crypto.public_key_pem(key) in out.getvalue()
    assert "PRIVATE KEY" not in out.getvalue()
    with pytest.raises(CommandError, match="exists"):
        call_command("whatsapp_flows_key", "generate", "--out", str(path), stdout=StringIO())
    with pytest.raises(CommandError, match="--out"):
        call_command("whatsapp_flows_key", "generate", stdout=StringIO())


def test_upload_and_show_against_the_sandbox(sandbox, account, flows_settings):
    out = StringIO()
    call_command("whatsapp_flows_key", "show", "--format", "json", stdout=out)
    assert json.loads(out.getvalue())["matches_configured"] is False  # nothing uploaded yet
    call_command("whatsapp_flows_key", "upload", stdout=StringIO())
    out = StringIO()
    call_command("whatsapp_flows_key", "show", stdout=out)
    assert "Meta holds the configured key (VALID)" in out.getvalue()
    flows_settings.WACLOUD = {**flows_settings.WACLOUD, "FLOWS_PRIVATE_KEY": None}
    with pytest.raises(CommandError, match='WACLOUD\\["FLOWS_PRIVATE_KEY"\\] is not set'):
        call_command("whatsapp_flows_key", "upload", stdout=StringIO())


# -- the system check --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("configured", "words"),
    [
        ({"FLOWS_PRIVATE_KEY": "/nowhere/flows.pem"}, "neither PEM text nor a readable file"),
        (
            {"FLOWS_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n"},
            "usable RSA key",
        ),
        ({"FLOWS_PRIVATE_KEY": PEM, "FLOWS_HANDLER": "flow_handlers.nothing"}, "cannot be imported"),
        ({"FLOWS_HANDLER": "flow_handlers.handle"}, 'WACLOUD["FLOWS_PRIVATE_KEY"] is not'),
    ],
)
def test_the_system_check_names_what_is_wrong_with_the_flows_settings(settings, configured, words):
    from wacloud_django.checks import check_settings

    settings.WACLOUD = {**settings.WACLOUD, **configured}
    found = [m for m in check_settings() if m.id == "wacloud.E080"]
    assert found and words in found[0].msg, [m.msg for m in check_settings()]


def test_good_flows_settings_pass_the_system_check(flows_settings):
    from wacloud_django.checks import check_settings

    assert [m for m in check_settings() if m.id == "wacloud.E080"] == []
