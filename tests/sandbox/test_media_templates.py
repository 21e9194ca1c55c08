"""Media upload/retrieve/download/delete, templates, the phone number node and
the business profile."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from sandbox_support import USER, assert_valid_error

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4


def multipart(fields: dict[str, str], file: tuple[str, str, bytes] | None) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    if file is not None:
        filename, mime, data = file
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: {mime}\r\n\r\n"
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def upload(graph, data=JPEG, mime="image/jpeg", fields=None):
    body, content_type = multipart(
        fields if fields is not None else {"messaging_product": "whatsapp", "type": mime},
        None if data is None else ("photo.jpg", mime, data),
    )
    return graph.request("POST", f"/{graph.phone}/media", data=body, content_type=content_type)


def test_media_upload_retrieve_download_delete(graph):
    reply = upload(graph)
    assert reply.status == 200 and set(reply.body) == {"id"}
    media_id = reply.body["id"]
    info = graph.request("GET", f"/{media_id}")
    assert info.status == 200
    assert set(info.body) == {"messaging_product", "url", "mime_type", "sha256", "file_size", "id"}
    assert info.body["sha256"] == hashlib.sha256(JPEG).hexdigest()
    assert info.body["file_size"] == len(JPEG) and info.body["mime_type"] == "image/jpeg"
    path = info.body["url"].removeprefix(graph.sandbox.base_url)
    download = graph.request("GET", path)
    assert download.status == 200 and download.body == JPEG
    assert_valid_error(graph.request("GET", path, token=None), 190, 401)
    assert graph.request("DELETE", f"/{media_id}").body == {"success": True}
    assert assert_valid_error(graph.request("GET", f"/{media_id}"), 100, 400)["error_subcode"] == 33
    assert_valid_error(graph.request("DELETE", f"/{media_id}"), 100, 400)
    assert graph.request("GET", path).status == 404


@pytest.mark.parametrize(
    ("data", "mime", "fields"),
    [
        (JPEG, "image/gif", None),  # not a type Meta accepts
        (None, "image/jpeg", None),  # no file
        (b"", "image/jpeg", None),  # empty file
        (JPEG, "image/jpeg", {"type": "image/jpeg"}),  # no messaging_product
        (b"x" * (5 << 20 + 1), "image/jpeg", None),  # over the 5 MB image limit
    ],
)
def test_media_upload_refusals(graph, data, mime, fields):
    assert_valid_error(upload(graph, data, mime, fields), 100, 400)


def test_upload_needs_multipart(graph):
    assert_valid_error(
        graph.request("POST", f"/{graph.phone}/media", {"messaging_product": "whatsapp"}), 100, 400
    )


def test_media_of_the_wrong_kind_is_refused_for_a_message(graph, open_window):
    media_id = upload(graph).body["id"]
    assert_valid_error(graph.send(to=USER, type="video", video={"id": media_id}), 131009, 400)


# -- templates ------------------------------------------------------------------------
def test_new_account_has_metas_hello_world(graph):
    reply = graph.request("GET", f"/{graph.waba}/message_templates")
    (hello,) = reply.body["data"]
    assert hello["name"] == "hello_world" and hello["language"] == "en_US"
    assert hello["status"] == "APPROVED" and hello["category"] == "UTILITY"
    assert [c["type"] for c in hello["components"]] == ["HEADER", "BODY", "FOOTER"]
    assert set(reply.body["paging"]["cursors"]) == {"before", "after"}


BODY = {"type": "BODY", "text": "Hi {{1}}, order {{2}} shipped", "example": {"body_text": [["Ana", "42"]]}}


def create(graph, name, components=None, **extra):
    body = {
        "name": name,
        "language": "en_US",
        "category": "UTILITY",
        "components": components or [BODY],
        **extra,
    }
    return graph.request("POST", f"/{graph.waba}/message_templates", body)


def test_template_create_pending_then_approved_by_webhook(graph, wa_sandbox):
    reply = create(graph, "order_shipped")
    assert reply.status == 200 and reply.body["status"] == "PENDING" and reply.body["category"] == "UTILITY"
    (delivery,) = wa_sandbox.wait_for_webhooks(kind="template.approved")
    value = delivery["payload"]["entry"][0]["changes"][0]["value"]
    assert value["message_template_id"] == int(reply.body["id"]) and value["event"] == "APPROVED"
    listed = graph.request("GET", f"/{graph.waba}/message_templates?name=order_shipped&fields=status")
    assert listed.body["data"] == [{"status": "APPROVED", "id": reply.body["id"]}]
    send = graph.send(
        to=USER,
        type="template",
        template={
            "name": "order_shipped",
            "language": {"code": "en_US"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}],
        },
    )
    assert "localizable_params (1)" in assert_valid_error(send, 132000, 400)["error_data"]["details"]


def test_template_rejected_through_the_control_api(graph, wa_sandbox):
    wa_sandbox.config.auto_approve_templates = False
    template_id = create(graph, "promo").body["id"]
    assert wa_sandbox.reject_template("promo", reason="INVALID_FORMAT")["status"] == "REJECTED"
    (delivery,) = wa_sandbox.wait_for_webhooks(kind="template.rejected")
    value = delivery["payload"]["entry"][0]["changes"][0]["value"]
    assert (value["message_template_id"], value["reason"]) == (int(template_id), "INVALID_FORMAT")
    send = graph.send(to=USER, type="template", template={"name": "promo", "language": {"code": "en_US"}})
    assert_valid_error(send, 132001, 404)


def test_review_rejects_adjacent_variables(graph, wa_sandbox):
    create(graph, "bad_vars", [{"type": "BODY", "text": "Hi {{1}}{{2}}, welcome"}])
    (delivery,) = wa_sandbox.wait_for_webhooks(kind="template.rejected")
    assert "rejection_info" in delivery["payload"]["entry"][0]["changes"][0]["value"]


@pytest.mark.parametrize(
    ("name", "components", "extra"),
    [
        ("Bad Name", None, {}),
        ("ok_name", [{"type": "HEADER", "format": "TEXT", "text": "x"}], {}),  # no BODY
        ("ok_name", [{"type": "BODY", "text": "x" * 1025}], {}),
        ("ok_name", [{"type": "BODY", "text": "Hi {{2}}, welcome"}], {}),  # positional variables start at 1
        ("ok_name", None, {"category": "SPAM"}),
        ("ok_name", None, {"language": "xx_XX"}),
        ("hello_world", None, {}),  # already exists in en_US
    ],
)
def test_template_create_refusals(graph, name, components, extra):
    error = assert_valid_error(create(graph, name, components, **extra), 100, 400)
    assert error["error_user_title"]
    if name == "hello_world":
        assert error["error_subcode"] == 2388024


# New templates stay PENDING for the whole test, however slow the machine (the status filter).
@pytest.mark.wa_sandbox(template_review_seconds=60)
def test_template_list_paging_filters_and_fields(graph, wa_sandbox):
    for index in range(5):
        create(graph, f"tpl_{index}", [{"type": "BODY", "text": f"Body {index}"}])
    first = graph.request("GET", f"/{graph.waba}/message_templates?limit=2&fields=name")
    assert [t["name"] for t in first.body["data"]] == ["hello_world", "tpl_0"]
    assert set(first.body["data"][0]) == {"name", "id"} and "previous" not in first.body["paging"]
    after = first.body["paging"]["cursors"]["after"]
    second = graph.request("GET", f"/{graph.waba}/message_templates?limit=2&fields=name&after={after}")
    assert [t["name"] for t in second.body["data"]] == ["tpl_1", "tpl_2"]
    assert (
        second.body["paging"]["next"].startswith(wa_sandbox.base_url) and "previous" in second.body["paging"]
    )
    before = second.body["paging"]["cursors"]["before"]
    back = graph.request("GET", f"/{graph.waba}/message_templates?limit=2&fields=name&before={before}")
    assert [t["name"] for t in back.body["data"]] == ["hello_world", "tpl_0"]
    approved = graph.request("GET", f"/{graph.waba}/message_templates?status=APPROVED&fields=name")
    assert [t["name"] for t in approved.body["data"]] == ["hello_world"]
    assert_valid_error(graph.request("GET", f"/{graph.waba}/message_templates?fields=bogus"), 100, 400)
    assert_valid_error(graph.request("GET", f"/{graph.waba}/message_templates?after=%%%"), 131009, 400)


def test_template_delete_by_name(graph):
    create(graph, "temporary")
    assert graph.request("DELETE", f"/{graph.waba}/message_templates?name=temporary").body == {
        "success": True
    }
    assert_valid_error(graph.request("DELETE", f"/{graph.waba}/message_templates?name=temporary"), 100, 400)
    assert_valid_error(graph.request("DELETE", f"/{graph.waba}/message_templates"), 100, 400)
    assert_valid_error(graph.request("GET", "/123123/message_templates"), 100, 400)


def test_template_send_checks(graph, wa_sandbox):
    def send(name, language="en_US", components=None):
        template = {"name": name, "language": {"code": language}, "components": components or []}
        return graph.send(to=USER, type="template", template=template)

    assert_valid_error(send("nope"), 132001, 404)
    assert_valid_error(send("hello_world", "pt_BR"), 132001, 404)
    extra = [{"type": "body", "parameters": [{"type": "text", "text": "x"}]}]
    assert_valid_error(send("hello_world", components=extra), 132000, 400)
    wa_sandbox.set_template_status("hello_world", "PAUSED")
    assert_valid_error(send("hello_world"), 132015, 400)
    wa_sandbox.set_template_status("hello_world", "DISABLED")
    assert_valid_error(send("hello_world"), 132016, 400)
    create(graph, "with_image", [{"type": "HEADER", "format": "IMAGE"}, {"type": "BODY", "text": "Look"}])
    wa_sandbox.wait_for_webhooks(kind="template.approved")
    assert_valid_error(send("with_image"), 132012, 400)
    image = [{"type": "header", "parameters": [{"type": "image", "image": {"link": "https://x.y/a.jpg"}}]}]
    assert send("with_image", components=image).status == 200


def test_named_template_parameters(graph, wa_sandbox):
    create(graph, "named", [{"type": "BODY", "text": "Hi {{first_name}}, welcome"}], parameter_format="NAMED")
    wa_sandbox.wait_for_webhooks(kind="template.approved")
    good = [{"type": "body", "parameters": [{"type": "text", "parameter_name": "first_name", "text": "Ana"}]}]
    bad = [{"type": "body", "parameters": [{"type": "text", "parameter_name": "name", "text": "Ana"}]}]
    template = {"name": "named", "language": {"code": "en_US"}}
    assert graph.send(to=USER, type="template", template={**template, "components": good}).status == 200
    assert_valid_error(
        graph.send(to=USER, type="template", template={**template, "components": bad}), 132000, 400
    )


# -- phone number and business profile -------------------------------------------------
def test_phone_number_node_uses_metas_field_names(graph):
    reply = graph.request("GET", f"/{graph.phone}")
    assert reply.body["display_phone_number"] == graph.sandbox.config.display_phone_number
    assert reply.body["quality_rating"] == "GREEN" and reply.body["throughput"] == {"level": "STANDARD"}
    assert reply.body["id"] == graph.phone and "verified_name" in reply.body
    picked = graph.request("GET", f"/{graph.phone}?fields=messaging_limit_tier,name_status")
    assert picked.body == {"messaging_limit_tier": "TIER_1K", "name_status": "APPROVED", "id": graph.phone}
    assert_valid_error(graph.request("GET", f"/{graph.phone}?fields=nonsense"), 100, 400)


def test_business_profile_read_and_update(graph):
    path = f"/{graph.phone}/whatsapp_business_profile"
    update = {"messaging_product": "whatsapp", "about": "We sell cats", "websites": ["https://cats.example"]}
    assert graph.request("POST", path, update).body == {"success": True}
    (profile,) = graph.request("GET", path + "?fields=about,websites").body["data"]
    assert profile == {
        "about": "We sell cats",
        "websites": ["https://cats.example"],
        "messaging_product": "whatsapp",
    }
    for bad in (
        {"about": "x" * 140},
        {"email": "nope"},
        {"websites": ["a", "b", "c"]},
        {"vertical": "PIRACY"},
    ):
        assert_valid_error(graph.request("POST", path, {"messaging_product": "whatsapp", **bad}), 131009, 400)
    assert_valid_error(graph.request("POST", path, {"about": "x"}), 100, 400)
    assert_valid_error(graph.request("GET", path + "?fields=secret"), 100, 400)
