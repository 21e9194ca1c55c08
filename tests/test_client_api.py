"""Templates (paging), business profile and phone number health."""

from urllib.parse import parse_qs

import pytest

import wacloud
from graph_stub import GraphStub, Reply
from wacloud import InvalidParameter

TOKEN = "EAAG-secret-token-321"
PHONE_ID = "106540352242922"
WABA_ID = "102290129340398"
TEMPLATES = f"/v25.0/{WABA_ID}/message_templates"


@pytest.fixture
def stub():
    with GraphStub() as server:
        yield server


def make_client(stub, **options):
    return wacloud.Client(TOKEN, PHONE_ID, waba_id=WABA_ID, base_url=stub.base_url, **options)


def template(name):
    return {
        "name": name,
        "language": "en_US",
        "status": "APPROVED",
        "category": "UTILITY",
        "id": name + "-id",
    }


def test_list_templates_follows_paging_across_three_pages(stub):
    def page(names, after=None):
        paging = {"cursors": {"before": "B", "after": after or "END"}}
        if after:
            # Meta's next links carry the token in the query; the client must not reuse it.
            paging["next"] = (
                f"https://graph.facebook.com/v25.0/{WABA_ID}/message_templates?access_token={TOKEN}&limit=2&status=APPROVED&after={after}"
            )
        return Reply(200, {"data": [template(n) for n in names], "paging": paging})

    stub.script("GET", TEMPLATES, page(["a", "b"], "CUR1"), page(["c", "d"], "CUR2"), page(["e"]))
    templates = make_client(stub).list_templates(status="APPROVED", limit=2)
    assert [t["name"] for t in templates] == ["a", "b", "c", "d", "e"]
    queries = [parse_qs(r.query) for r in stub.requests]
    assert queries == [
        {"limit": ["2"], "status": ["APPROVED"]},
        {"limit": ["2"], "status": ["APPROVED"], "after": ["CUR1"]},
        {"limit": ["2"], "status": ["APPROVED"], "after": ["CUR2"]},
    ]
    assert all(
        r.route == TEMPLATES and r.headers["authorization"] == f"Bearer {TOKEN}" for r in stub.requests
    )


def test_list_templates_name_filter_is_encoded(stub):
    stub.script("GET", TEMPLATES, Reply(200, {"data": []}))
    assert make_client(stub).list_templates(name="order update&x") == []
    assert parse_qs(stub.requests[0].query) == {"limit": ["100"], "name": ["order update&x"]}


def test_create_template_exact_body(stub):
    components = [{"type": "BODY", "text": "Hi {{1}}", "example": {"body_text": [["Ada"]]}}]
    stub.script(
        "POST", TEMPLATES, Reply(200, {"id": "594425479261596", "status": "PENDING", "category": "UTILITY"})
    )
    created = make_client(stub).create_template("order_update", "en_US", "UTILITY", components)
    assert created == {"id": "594425479261596", "status": "PENDING", "category": "UTILITY"}
    assert stub.requests[0].json() == {
        "name": "order_update",
        "language": "en_US",
        "category": "UTILITY",
        "components": components,
    }


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("Order Update", "en_US", "UTILITY", [{"type": "BODY"}]), "name"),
        (("order_update", "english", "UTILITY", [{"type": "BODY"}]), "language"),
        (("order_update", "en_US", "PROMO", [{"type": "BODY"}]), "category"),
        (("order_update", "en_US", "UTILITY", []), "components"),
        (("order_update", "en_US", "UTILITY", ["BODY"]), "components[0]"),
    ],
)
def test_create_template_checks_before_sending(stub, args, field):
    with pytest.raises(InvalidParameter) as raised:
        make_client(stub).create_template(*args)
    assert str(raised.value).startswith(field + ":")
    assert stub.requests == []


def test_delete_template(stub):
    stub.script("DELETE", TEMPLATES, Reply(200, {"success": True}))
    make_client(stub).delete_template("order_update")
    assert [(r.method, r.query) for r in stub.requests] == [("DELETE", "name=order_update")]


@pytest.mark.parametrize("limit", [0, -1, "10", True])
def test_list_templates_limit_must_be_positive_int(stub, limit):
    with pytest.raises(InvalidParameter, match="limit"):
        make_client(stub).list_templates(limit=limit)
    assert stub.requests == []


def test_template_calls_need_a_waba_id(stub):
    client = wacloud.Client(TOKEN, PHONE_ID, base_url=stub.base_url)
    for call in (client.list_templates, lambda: client.delete_template("x")):
        with pytest.raises(InvalidParameter, match="waba_id"):
            call()
    assert stub.requests == []


def test_business_profile_get_and_update(stub):
    profile = {"about": "Succulents", "email": "hi@example.com", "messaging_product": "whatsapp"}
    stub.script("GET", f"/v25.0/{PHONE_ID}/whatsapp_business_profile", Reply(200, {"data": [profile]}))
    stub.script("POST", f"/v25.0/{PHONE_ID}/whatsapp_business_profile", Reply(200, {"success": True}))
    client = make_client(stub)
    assert client.get_business_profile() == profile
    assert (
        "fields=about,address,description,email,profile_picture_url,websites,vertical"
        in stub.requests[0].query
    )
    client.update_business_profile(about="Fresh plants", websites=["https://example.com"])
    assert stub.requests[1].json() == {
        "messaging_product": "whatsapp",
        "about": "Fresh plants",
        "websites": ["https://example.com"],
    }


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"abuot": "typo"}, "abuot"),
        ({"about": "x" * 140}, "about"),
        ({"websites": ["a", "b", "c"]}, "websites"),
        ({"websites": ["ftp://example.com"]}, "websites[0]"),
        ({"email": 5}, "email"),
        ({}, "fields"),
    ],
)
def test_business_profile_update_checks_fields(stub, fields, field):
    with pytest.raises(InvalidParameter) as raised:
        make_client(stub).update_business_profile(**fields)
    assert str(raised.value).startswith(field + ":")
    assert stub.requests == []


def test_get_phone_number_health(stub):
    health = {
        "id": PHONE_ID,
        "verified_name": "Lucky Shrub",
        "display_phone_number": "+1 650-555-0100",
        "quality_rating": "GREEN",
        "throughput": {"level": "STANDARD"},
        "messaging_limit_tier": "TIER_1K",
    }
    stub.script("GET", f"/v25.0/{PHONE_ID}", Reply(200, health))
    assert make_client(stub).get_phone_number() == health
    fields = parse_qs(stub.requests[0].query)["fields"][0].split(",")
    assert {
        "verified_name",
        "display_phone_number",
        "quality_rating",
        "throughput",
        "messaging_limit_tier",
    } <= set(fields)


def test_unexpected_answer_shape_is_a_graph_error(stub):
    stub.script("GET", f"/v25.0/{PHONE_ID}", Reply(200, [1, 2, 3]))
    with pytest.raises(wacloud.GraphAPIError, match="unexpected answer shape"):
        make_client(stub).get_phone_number()
