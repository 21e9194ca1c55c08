"""The Resumable Upload API as the sandbox plays it: a session per file, bytes appended at the
offset the session holds, the handle once the file is whole, and the handle as the business
profile picture. Meta's vendored spec has no such operations: the shapes are checked here."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote

from sandbox_support import Graph, assert_valid_error

from wacloud.sandbox.tokens import APP_ID

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


def start(graph: Graph, name: str = "logo.png", length: int = len(PNG), file_type: str = "image/png") -> Any:
    query = f"file_name={quote(name)}&file_length={length}&file_type={quote(file_type, safe='')}"
    return graph.request("POST", f"/{APP_ID}/uploads?{query}")


def send(graph: Graph, session: str, data: bytes, offset: int) -> Any:
    # The raw bytes, with Meta's OAuth scheme and file_offset header.
    import urllib.request

    request = urllib.request.Request(
        f"{graph.sandbox.base_url}/v25.0/{session}",
        data=data,
        method="POST",
        headers={"Authorization": f"OAuth {graph.token}", "file_offset": str(offset)},
    )
    return _open(request)


def _open(request: Any) -> Any:
    import json
    import urllib.error
    import urllib.request

    from sandbox_support import Reply

    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Reply(response.status, json.loads(response.read()), dict(response.headers))
    except urllib.error.HTTPError as error:
        with error:
            return Reply(error.code, json.loads(error.read()), dict(error.headers))


def upload_handle(
    graph: Graph, data: bytes = PNG, name: str = "logo.png", file_type: str = "image/png"
) -> str:
    """A file handle of ``data``, uploaded in one transfer."""
    session = start(graph, name, len(data), file_type).body["id"]
    reply = send(graph, session, data, 0)
    assert reply.status == 200, reply.body
    return reply.body["h"]


def test_a_session_takes_the_file_in_two_parts_and_answers_a_handle(graph):
    opened = start(graph)
    assert opened.status == 200, opened.body
    session = opened.body["id"]
    assert session.startswith("upload:") and "?sig=" in session
    first = send(graph, session, PNG[:1000], 0)
    assert first.status == 200 and first.body["file_offset"] == 1000 and "h" not in first.body
    assert graph.request("GET", f"/{session}").body["file_offset"] == 1000
    done = send(graph, session, PNG[1000:], 1000)
    assert done.status == 200, done.body
    handle = done.body["h"]
    assert handle.startswith("4:")
    # Asked again (its answer lost), the session names the same handle.
    assert send(graph, session, b"", len(PNG)).body == {"h": handle}


def test_an_offset_that_is_not_where_the_session_stands_is_refused(graph):
    session = start(graph).body["id"]
    send(graph, session, PNG[:500], 0)
    error = assert_valid_error(send(graph, session, PNG[100:], 100), 100, 400)
    assert "file_offset 100" in error["error_data"]["details"]
    assert graph.request("GET", f"/{session}").body["file_offset"] == 500


def test_more_bytes_than_the_declared_length_are_refused(graph):
    session = start(graph, length=10).body["id"]
    assert_valid_error(send(graph, session, PNG[:20], 0), 100, 400)


def test_a_session_needs_name_length_and_an_accepted_type(graph):
    assert_valid_error(start(graph, file_type="image/gif"), 100, 400)
    assert_valid_error(start(graph, length=0), 100, 400)
    missing = graph.request("POST", f"/{APP_ID}/uploads?file_length=10&file_type=image%2Fpng")
    assert assert_valid_error(missing, 100, 400)["message"] == "(#100) The parameter file_name is required."
    other_app = graph.request("POST", "/999/uploads?file_name=a&file_length=1&file_type=image%2Fpng")
    assert_valid_error(other_app, 100, 400)


def test_a_session_without_its_signature_is_unknown(graph):
    session = start(graph).body["id"]
    bare = session.split("?")[0]
    assert graph.request("GET", f"/{bare}").status == 400
    assert graph.request("GET", f"/{bare}?sig=forged").status == 400


def test_a_cut_transfer_keeps_the_bytes_that_arrived(graph, wa_sandbox):
    session = start(graph).body["id"]
    wa_sandbox.set_faults(upload_cut_after=3000)
    try:
        send(graph, session, PNG, 0)
    except OSError:
        pass  # the connection was dropped: that is the fault
    assert graph.request("GET", f"/{session}").body["file_offset"] == 3000
    done = send(graph, session, PNG[3000:], 3000)
    assert "h" in done.body


def test_the_profile_picture_is_a_handle_of_an_uploaded_image(graph):
    path = f"/{graph.phone}/whatsapp_business_profile"
    handle = upload_handle(graph)
    assert (
        graph.request(
            "POST", path, {"messaging_product": "whatsapp", "profile_picture_handle": handle}
        ).status
        == 200
    )
    (profile,) = graph.request("GET", path + "?fields=profile_picture_url").body["data"]
    picture = graph.request("GET", "/" + profile["profile_picture_url"].split("/", 3)[3])
    assert picture.status == 200 and picture.headers["Content-Type"] == "image/png"
    assert hashlib.sha256(picture.body).digest() == hashlib.sha256(PNG).digest()
    unknown = {"messaging_product": "whatsapp", "profile_picture_handle": "4:bm9uZQ==:aW1hZ2UvcG5n:ARbnone"}
    error = assert_valid_error(graph.request("POST", path, unknown), 100, 400)
    assert "profile_picture_handle" in error["error_data"]["details"]
    pdf = upload_handle(graph, b"%PDF-1.4 menu", "menu.pdf", "application/pdf")
    not_an_image = {"messaging_product": "whatsapp", "profile_picture_handle": pdf}
    assert_valid_error(graph.request("POST", path, not_an_image), 100, 400)
