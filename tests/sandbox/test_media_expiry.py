"""Media lifetimes as Meta has them: a download URL works for 5 minutes, an uploaded media id
for 30 days, the id of media a user sent for 7 days.

Sources: the media reference (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media:
"URLs are valid for 5 minutes"; uploaded media "persists for 30 days"; media ids from received
messages are usable for 7 days, per the webhooks' media objects)."""

from __future__ import annotations

from sandbox_support import USER, assert_valid_error
from test_media_templates import JPEG, upload

DAY = 24 * 3600


def download(graph, media_id):
    url = graph.request("GET", f"/{media_id}").body["url"]
    return url, graph.request("GET", url.removeprefix(graph.sandbox.base_url))


def test_media_url_expires_after_five_minutes_and_a_fresh_one_works(graph, wa_sandbox):
    media_id = upload(graph).body["id"]
    url, first = download(graph, media_id)
    assert first.status == 200 and first.body == JPEG
    wa_sandbox.advance_clock(5 * 60 + 1)
    stale = graph.request("GET", url.removeprefix(graph.sandbox.base_url))
    assert stale.status == 404
    _, fresh = download(graph, media_id)
    assert fresh.status == 200 and fresh.body == JPEG


def test_a_tampered_url_is_refused(graph):
    media_id = upload(graph).body["id"]
    url = graph.request("GET", f"/{media_id}").body["url"]
    later = url.replace("&ext=", "&ext=9")  # claims a later issue time, hash no longer matches
    assert graph.request("GET", later.removeprefix(graph.sandbox.base_url)).status == 404


def test_uploaded_media_id_lasts_thirty_days(graph, wa_sandbox):
    media_id = upload(graph).body["id"]
    wa_sandbox.advance_clock(30 * DAY - 60)
    assert graph.request("GET", f"/{media_id}").status == 200
    wa_sandbox.inject_inbound(**{"from": USER}, type="text", text="hi")  # open the window
    assert graph.send(to=USER, type="image", image={"id": media_id}).status == 200
    wa_sandbox.advance_clock(120)
    assert_valid_error(graph.request("GET", f"/{media_id}"), 100, 400)
    wa_sandbox.inject_inbound(**{"from": USER}, type="text", text="hi")  # window still open
    assert_valid_error(graph.send(to=USER, type="image", image={"id": media_id}), 131009, 400)


def test_received_media_id_lasts_seven_days(graph, wa_sandbox):
    message = wa_sandbox.inject_inbound(**{"from": USER}, type="image")
    media_id = message["image"]["id"]
    wa_sandbox.advance_clock(7 * DAY - 60)
    assert graph.request("GET", f"/{media_id}").status == 200
    wa_sandbox.advance_clock(120)
    assert_valid_error(graph.request("GET", f"/{media_id}"), 100, 400)
