"""Client.upload_resumable: Meta's Resumable Upload API on the wire (a stub: the OAuth header,
``file_offset``, the raw bytes) and against the sandbox, including a transfer cut in the middle
that resumes from the bytes Meta holds, and a session continued by a later call."""

from __future__ import annotations

import hashlib

import pytest

import wacloud
from graph_stub import GraphStub, Reply, graph_error
from wacloud import InvalidParameter, TransientError
from wacloud.sandbox.tokens import APP_ID

TOKEN = "EAAG-secret-token-321"
PHONE_ID = "106540352242922"
SESSION = "upload:MTphdHRhY2htZW50OmFiYw?sig=ARZsig"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 400  # about 100 KB


@pytest.fixture
def stub():
    with GraphStub() as server:
        yield server


def sandbox_client(wa_sandbox, **options):
    config = wa_sandbox.config
    return wacloud.Client(
        config.access_token, config.phone_number_id, waba_id=config.waba_id,
        base_url=wa_sandbox.base_url, retry_backoff=0.01, **options,
    )  # fmt: skip


def test_on_the_wire_a_session_then_the_bytes_with_oauth_and_the_offset(stub, tmp_path):
    stub.script("POST", f"/v25.0/{APP_ID}/uploads", Reply(200, {"id": SESSION}))
    stub.script("GET", "/v25.0/upload:MTphdHRhY2htZW50OmFiYw", Reply(200, {"id": SESSION, "file_offset": 0}))
    stub.script("POST", "/v25.0/upload:MTphdHRhY2htZW50OmFiYw", Reply(200, {"h": "4::aW1hZ2UvcG5n:ARb"}))
    path = tmp_path / "logo.png"
    path.write_bytes(PNG)
    client = wacloud.Client(TOKEN, PHONE_ID, base_url=stub.base_url)
    assert client.upload_resumable(path, app_id=APP_ID) == "4::aW1hZ2UvcG5n:ARb"
    start, offset, data = stub.requests
    assert start.query == f"file_name=logo.png&file_length={len(PNG)}&file_type=image%2Fpng"
    assert start.headers["authorization"] == f"Bearer {TOKEN}"
    assert offset.query == "sig=ARZsig" and offset.headers["authorization"] == f"OAuth {TOKEN}"
    assert data.headers["authorization"] == f"OAuth {TOKEN}" and data.headers["file_offset"] == "0"
    assert "content-type" not in data.headers and data.body == PNG  # streamed off disk, byte for byte


def test_the_app_is_the_tokens_own_unless_given(stub):
    stub.script("GET", "/v25.0/debug_token", Reply(200, {"data": {"app_id": "777", "is_valid": True}}))
    stub.script("POST", "/v25.0/777/uploads", Reply(200, {"id": SESSION}))
    stub.script("GET", "/v25.0/upload:MTphdHRhY2htZW50OmFiYw", Reply(200, {"file_offset": 0}))
    stub.script(
        "POST", "/v25.0/upload:MTphdHRhY2htZW50OmFiYw", Reply(200, {"h": "H1"}), Reply(200, {"h": "H2"})
    )
    client = wacloud.Client(TOKEN, PHONE_ID, base_url=stub.base_url)
    assert client.upload_resumable(PNG, "image/png") == "H1"
    stub.script("POST", "/v25.0/777/uploads", Reply(200, {"id": SESSION}))
    stub.script("GET", "/v25.0/upload:MTphdHRhY2htZW50OmFiYw", Reply(200, {"file_offset": 0}))
    assert client.upload_resumable(PNG, "image/png") == "H2"
    assert len(stub.requests_to("/v25.0/debug_token")) == 1  # asked once per client


def test_against_the_sandbox_the_handle_becomes_the_profile_picture(wa_sandbox):
    client = sandbox_client(wa_sandbox)
    handle = client.upload_resumable(PNG, file_name="logo.png")
    client.update_business_profile(profile_picture_handle=handle)
    assert client.get_business_profile()["profile_picture_url"].startswith(wa_sandbox.base_url)


def test_a_cut_transfer_resumes_where_meta_stopped(wa_sandbox, tmp_path):
    path = tmp_path / "menu.pdf"
    data = b"%PDF-1.4\n" + bytes(range(256)) * 2000
    path.write_bytes(data)
    client = sandbox_client(wa_sandbox)
    wa_sandbox.set_faults(upload_cut_after=200_000)
    before = wa_sandbox.graph_requests()
    handle = client.upload_resumable(path, "application/pdf", app_id=APP_ID)
    # session, offset (0), cut transfer, offset (200000), the rest: nothing was sent twice.
    assert wa_sandbox.graph_requests() - before == 5
    handles = wa_sandbox._call(lambda: dict(wa_sandbox._core.state.account["handles"]))
    assert handles[handle]["file_length"] == len(data)
    assert handles[handle]["sha256"] == hashlib.sha256(data).hexdigest()


def test_a_session_left_unfinished_is_continued_by_a_later_call(wa_sandbox):
    client = sandbox_client(wa_sandbox, max_retries=0)
    wa_sandbox.set_faults(upload_cut_after=50_000)
    with pytest.raises(TransientError) as failed:
        client.upload_resumable(PNG, "image/png", app_id=APP_ID)
    session = failed.value.upload_session_id
    assert client.upload_session_offset(session) == 50_000
    handle = client.upload_resumable(PNG, "image/png", session_id=session)
    assert handle.startswith("4:")


@pytest.mark.parametrize(
    ("data", "mime", "field"),
    [
        (b"GIF89a....", None, "mime_type"),  # sniffed as a GIF: not a resumable type
        (PNG, "image/webp", "mime_type"),
        (b"", "image/png", "file"),
        (b"\x00\x01\x02", None, "mime_type"),  # cannot be told
    ],
)
def test_what_meta_would_refuse_is_refused_unsent(stub, data, mime, field):
    client = wacloud.Client(TOKEN, PHONE_ID, base_url=stub.base_url)
    with pytest.raises(InvalidParameter, match=f"^{field}"):
        client.upload_resumable(data, mime, app_id=APP_ID)
    assert stub.requests == []


def test_a_missing_file_or_a_bad_session_id_is_refused(stub, tmp_path):
    client = wacloud.Client(TOKEN, PHONE_ID, base_url=stub.base_url)
    with pytest.raises(FileNotFoundError):
        client.upload_resumable(tmp_path / "nope.png", app_id=APP_ID)
    with pytest.raises(InvalidParameter, match="session_id"):
        client.upload_resumable(PNG, "image/png", session_id="../../me")
    with pytest.raises(InvalidParameter, match="app_id"):
        client.upload_resumable(PNG, "image/png", app_id="my-app")
    assert stub.requests == []


def test_meta_refusing_the_session_is_its_error(stub):
    stub.script("POST", f"/v25.0/{APP_ID}/uploads", Reply(400, graph_error(100, "(#100) Invalid parameter")))
    client = wacloud.Client(TOKEN, PHONE_ID, base_url=stub.base_url)
    with pytest.raises(InvalidParameter):
        client.upload_resumable(PNG, "image/png", app_id=APP_ID)
