"""Media: multipart upload (checked first), lookup, streamed download with the
SHA-256 check, deletion."""

import base64
import email
import hashlib
import os

import pytest

import wacloud
from graph_stub import GraphStub, Reply
from wacloud import MediaError, MediaRejected, RemoteMedia

TOKEN = "EAAG-secret-token-789"
PHONE_ID = "106540352242922"
MEDIA_ID = "1037543291543636"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00" + bytes(200)


@pytest.fixture
def stub():
    with GraphStub() as server:
        yield server


def make_client(stub, **options):
    return wacloud.Client(TOKEN, PHONE_ID, base_url=stub.base_url, retry_backoff=0.01, **options)


def form_parts(request):
    raw = b"Content-Type: " + request.headers["content-type"].encode() + b"\r\n\r\n" + request.body
    parts = email.message_from_bytes(raw).get_payload()
    return {part.get_param("name", header="content-disposition"): part for part in parts}


def test_upload_bytes_is_multipart_with_sniffed_type(stub):
    stub.script("POST", f"/v25.0/{PHONE_ID}/media", Reply(200, {"id": MEDIA_ID}))
    assert make_client(stub).upload_media(PNG) == MEDIA_ID
    (request,) = stub.requests
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    parts = form_parts(request)
    assert parts["messaging_product"].get_payload() == "whatsapp"
    assert parts["type"].get_payload() == "image/png"
    assert parts["file"].get_content_type() == "image/png"
    assert parts["file"].get_payload(decode=True) == PNG


def test_upload_file_streams_from_disk_with_its_name(stub, tmp_path):
    document = tmp_path / "invoice.pdf"
    document.write_bytes(b"%PDF-1.4\n" + b"x" * 5000 + b"\n%%EOF\n")
    stub.script("POST", f"/v25.0/{PHONE_ID}/media", Reply(200, {"id": "42"}))
    assert make_client(stub).upload_media(document, mime_type="application/pdf") == "42"
    parts = form_parts(stub.requests[0])
    assert parts["file"].get_filename() == "invoice.pdf"
    assert parts["file"].get_payload(decode=True) == document.read_bytes()
    assert parts["type"].get_payload() == "application/pdf"


def test_upload_refused_locally_is_never_sent(stub):
    with pytest.raises(MediaRejected):
        make_client(stub).upload_media(b"")
    with pytest.raises(MediaRejected):
        make_client(stub).upload_media(PNG, mime_type="application/x-msdownload")
    assert stub.requests == []


def serve_media(stub, content, sha256=None, file_size=None):
    stub.route(
        "GET",
        f"/v25.0/{MEDIA_ID}",
        lambda request: Reply(
            200,
            {
                "messaging_product": "whatsapp",
                "url": stub.base_url + "/lookaside/blob?ext=123",
                "mime_type": "image/jpeg",
                "sha256": hashlib.sha256(content).hexdigest() if sha256 is None else sha256,
                "file_size": str(len(content)) if file_size is None else file_size,  # Meta sends a string
                "id": MEDIA_ID,
            },
        ),
    )
    stub.route("GET", "/lookaside/blob", lambda request: Reply(200, content))


def test_get_media(stub):
    serve_media(stub, b"abc")
    media = make_client(stub).get_media(MEDIA_ID)
    url = stub.base_url + "/lookaside/blob?ext=123"
    assert media == RemoteMedia(MEDIA_ID, url, "image/jpeg", hashlib.sha256(b"abc").hexdigest(), 3)


def test_download_streams_to_disk_and_checks_hash(stub, tmp_path):
    content = os.urandom(3 * 1024 * 1024 + 17)
    serve_media(stub, content)
    dest = tmp_path / "photo.jpg"
    media = make_client(stub).download_media(MEDIA_ID, dest)
    assert dest.read_bytes() == content
    assert media.file_size == len(content)
    blob_request = stub.requests_to("/lookaside/blob")[0]
    assert blob_request.headers["authorization"] == f"Bearer {TOKEN}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.jpg"]


def test_download_accepts_base64_hash(stub, tmp_path):
    serve_media(stub, b"hello", sha256=base64.b64encode(hashlib.sha256(b"hello").digest()).decode())
    make_client(stub).download_media(MEDIA_ID, tmp_path / "a.bin")
    assert (tmp_path / "a.bin").read_bytes() == b"hello"


@pytest.mark.parametrize(
    ("sha256", "file_size"),
    [(hashlib.sha256(b"something else").hexdigest(), None), (None, 999)],
    ids=["bad-hash", "bad-size"],
)
def test_download_mismatch_raises_and_leaves_no_file(stub, tmp_path, sha256, file_size):
    serve_media(stub, b"x" * 100_000, sha256=sha256, file_size=file_size)
    dest = tmp_path / "photo.jpg"
    dest.write_bytes(b"previous")  # an existing file is left alone on failure
    with pytest.raises(MediaError):
        make_client(stub).download_media(MEDIA_ID, dest)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.jpg"]
    assert dest.read_bytes() == b"previous"


def test_download_of_expired_url_is_media_error(stub, tmp_path):
    serve_media(stub, b"x")
    stub.route("GET", "/lookaside/blob", lambda request: Reply(404, "Not Found"))
    with pytest.raises(MediaError):
        make_client(stub).download_media(MEDIA_ID, tmp_path / "x.jpg")
    assert list(tmp_path.iterdir()) == []
    # One fresh URL was fetched and tried before giving up.
    assert len(stub.requests_to(f"/v25.0/{MEDIA_ID}")) == 2
    assert len(stub.requests_to("/lookaside/blob")) == 2


def test_download_fetches_a_fresh_url_once_when_the_old_one_expired(stub, tmp_path):
    # Meta's media URLs expire after 5 minutes ("Retrieve Media URL": the URL is valid for 5
    # minutes; query the media id again for a new one), answered 404 once expired.
    serve_media(stub, b"fresh bytes")
    stub.script("GET", "/lookaside/blob", Reply(404, "Not Found"))
    media = make_client(stub).download_media(MEDIA_ID, tmp_path / "x.bin")
    assert (tmp_path / "x.bin").read_bytes() == b"fresh bytes"
    assert media.file_size == len(b"fresh bytes")
    assert len(stub.requests_to(f"/v25.0/{MEDIA_ID}")) == 2


def test_download_retries_transient_failures_from_scratch(stub, tmp_path):
    serve_media(stub, b"0123456789")
    stub.script("GET", "/lookaside/blob", Reply(503, "busy"))
    make_client(stub).download_media(MEDIA_ID, tmp_path / "x.bin")
    assert (tmp_path / "x.bin").read_bytes() == b"0123456789"
    assert len(stub.requests_to("/lookaside/blob")) == 2


def test_download_into_missing_directory_is_os_error(stub, tmp_path):
    serve_media(stub, b"x")
    with pytest.raises(FileNotFoundError):
        make_client(stub).download_media(MEDIA_ID, tmp_path / "missing" / "x.jpg")


def test_delete_media(stub):
    stub.script("DELETE", f"/v25.0/{MEDIA_ID}", Reply(200, {"success": True}))
    make_client(stub).delete_media(MEDIA_ID)
    assert [(r.method, r.path) for r in stub.requests] == [("DELETE", f"/v25.0/{MEDIA_ID}")]


@pytest.mark.parametrize("media_id", ["", "1/../2", "12?x=1", "a b"])
def test_media_ids_cannot_change_the_path(stub, media_id):
    with pytest.raises(wacloud.InvalidParameter, match="media_id"):
        make_client(stub).get_media(media_id)
    assert stub.requests == []
