"""Templates in the Django app, against the sandbox: send_message checks a send against the
synced template by Meta's rules (header kind, body, buttons) with typed or raw components;
refresh_template reads one template by its id; edit_template edits it at Meta and stores the
edit (PENDING, audited); the REST API's templates/<id>, PATCH and refresh doors."""

from __future__ import annotations

import pytest
from api_test_helpers import CUSTOMER, Api, member

from wacloud import (
    CopyCodeButton,
    InvalidParameter,
    QuickReplyButton,
    TemplateBody,
    TemplateHeader,
    TemplateMismatch,
    UrlButton,
)
from wacloud_django.models import AuditEntry, Message, Template
from wacloud_django.services.clients import client_for
from wacloud_django.services.outbound import send_message
from wacloud_django.services.templates import edit_template, refresh_template, sync_templates

pytestmark = pytest.mark.django_db

IMAGE = "https://media.example/banner.jpg"
COMPONENTS = [
    {"type": "HEADER", "format": "IMAGE"},
    {"type": "BODY", "text": "Hi {{1}}, order {{2}} has shipped."},
    {
        "type": "BUTTONS",
        "buttons": [
            {"type": "QUICK_REPLY", "text": "Stop"},
            {"type": "URL", "text": "Track", "url": "https://shop.example/t/{{1}}"},
            {"type": "COPY_CODE", "example": "SAVE25"},
        ],
    },
]
FITS = [
    TemplateHeader.image(link=IMAGE),
    TemplateBody("Ana", "42"),
    UrlButton(1, "42"),
    CopyCodeButton(2, "SAVE"),
]


@pytest.fixture
def order_template(sandbox, account):
    """A template with an image header, body parameters and buttons: approved at the sandbox
    and synced (so its Meta id and components are stored)."""
    client_for(account).create_template("order_shipped", "en_US", "UTILITY", COMPONENTS)
    sandbox.set_template_status("order_shipped", "APPROVED")
    sync_templates(account)
    return Template.objects.get(name="order_shipped")


def send(account, components):
    return send_message(
        account,
        CUSTOMER,
        "template",
        template_name="order_shipped",
        template_language="en_US",
        template_components=components,
        enqueue=False,
    )


def test_typed_components_are_stored_as_metas_dicts_and_sent(sandbox, account, order_template):
    message = send(account, [*FITS, QuickReplyButton(0, "stop")])
    assert message.status == Message.Status.SENT
    [sent] = sandbox.sent_messages(to=CUSTOMER)
    stored = Message.objects.get(pk=message.pk).content["components"]
    assert sent["payload"]["template"]["components"] == stored
    assert stored[0] == {"type": "header", "parameters": [{"type": "image", "image": {"link": IMAGE}}]}


@pytest.mark.parametrize(
    ("components", "code", "component", "index"),
    [
        (FITS[1:], 132012, "header", 0),
        ([TemplateHeader.video(link=IMAGE), *FITS[1:]], 132012, "header", 0),
        ([FITS[0], TemplateBody("Ana"), *FITS[2:]], 132000, "body", None),
        ([*FITS[:2], FITS[3]], 132000, "button", 1),
        ([*FITS[:2], QuickReplyButton(1, "42"), FITS[3]], 132012, "button", 1),
        ([*FITS, QuickReplyButton(4, "x")], 132000, "button", 4),
    ],
)
def test_a_send_that_does_not_fit_the_synced_template_is_refused_before_storing(
    sandbox, account, order_template, components, code, component, index
):
    for given in (components, [c.to_component() for c in components]):  # typed or raw: the same
        with pytest.raises(TemplateMismatch) as raised:
            send(account, given)
        assert (raised.value.code, raised.value.component, raised.value.index) == (code, component, index)
    assert Message.objects.count() == 0 and sandbox.sent_messages() == []


def test_refresh_reads_the_template_by_its_id(sandbox, account, order_template):
    sandbox.set_template_status("order_shipped", "PAUSED")
    assert refresh_template(order_template).status == "PAUSED"
    unsynced = Template.objects.create(account=account, waba_id=account.waba_id, name="x", language="en")
    with pytest.raises(InvalidParameter, match="sync first"):
        refresh_template(unsynced)


def test_edit_replaces_the_components_at_meta_and_stores_the_edit(sandbox, account, order_template):
    sandbox.reject_template("order_shipped")
    refresh_template(order_template)
    new = [{"type": "BODY", "text": "Order {{1}} is on its way."}]
    edited = edit_template(order_template, components=new, category="marketing")
    assert (edited.status, edited.category, edited.components) == ("PENDING", "MARKETING", new)
    at_meta = client_for(account).get_template(order_template.template_id)
    assert (at_meta["components"], at_meta["category"], at_meta["status"]) == (new, "MARKETING", "PENDING")
    entry = AuditEntry.objects.get(action="template.edit")
    assert entry.changes["category"] == ["UTILITY", "MARKETING"] and entry.changes["components"][1] == new


def test_an_edit_meta_refuses_changes_nothing(sandbox, account, order_template):
    with pytest.raises(InvalidParameter, match="category of an approved template"):
        edit_template(order_template, category="MARKETING")
    order_template.refresh_from_db()
    assert (order_template.status, order_template.category) == ("APPROVED", "UTILITY")
    assert not AuditEntry.objects.filter(action="template.edit").exists()


# -- REST ----------------------------------------------------------------------------------------
def test_api_reads_edits_and_refreshes_a_template(sandbox, account, order_template):
    marketer = Api(member(account, "marketer"))
    path = f"templates/{order_template.pk}"
    read = marketer.get(path).json()
    assert read["success"] and read["template"]["template_id"] == order_template.template_id
    sandbox.reject_template("order_shipped")
    assert marketer.post(path + "/refresh").json()["template"]["status"] == "REJECTED"
    new = [{"type": "BODY", "text": "Order {{1}} is on its way."}]
    answer = marketer.patch(path, {"components": new})
    assert answer.status_code == 200, answer.content
    assert answer.json()["template"]["components"] == new and answer.json()["template"]["status"] == "PENDING"
    refused = marketer.patch(path, {})
    assert refused.status_code == 400 and refused.json()["error_code"] == "VALIDATION_ERROR"


def test_api_answers_metas_refusal_and_where_a_send_does_not_fit(sandbox, account, order_template):
    admin = Api(member(account, "admin"))
    refused = admin.patch(f"templates/{order_template.pk}", {"category": "MARKETING"})
    body = refused.json()
    assert refused.status_code == 400 and body["details"]["code"] == 100
    assert "category of an approved template" in body["error"]
    content = {
        "name": "order_shipped",
        "language": {"code": "en_US"},
        "components": [c.to_component() for c in FITS[:2]],
    }
    answer = admin.post("send", {"to": CUSTOMER, "type": "template", "content": content})
    details = answer.json()["details"]
    assert answer.status_code == 400 and (details["code"], details["component"], details["index"]) == (
        132000,
        "button",
        1,
    )


def test_a_named_template_is_created_over_the_api_and_sent_by_name(sandbox, account):
    marketer = Api(member(account, "marketer"))
    body = {
        "type": "BODY",
        "text": "Hi {{first_name}}, order {{order_id}} has shipped.",
        "example": {"body_text_named_params": [
            {"param_name": "first_name", "example": "Ana"}, {"param_name": "order_id", "example": "42"}]},
    }  # fmt: skip
    answer = marketer.post(
        "templates",
        {"name": "named_shipped", "language": "en_US", "category": "UTILITY", "components": [body],
         "parameter_format": "NAMED"},
    )  # fmt: skip
    assert answer.status_code == 201, answer.content
    [created] = [t for t in sandbox.templates() if t["name"] == "named_shipped"]
    assert created["parameter_format"] == "NAMED"  # Meta was told
    sandbox.set_template_status("named_shipped", "APPROVED")
    sync_templates(account)
    with pytest.raises(TemplateMismatch):  # by position: this template's variables have names
        send_message(account, CUSTOMER, "template", template_name="named_shipped", template_language="en_US",
                     template_components=[TemplateBody("Ana", "42")], enqueue=False)  # fmt: skip
    message = send_message(
        account, CUSTOMER, "template", template_name="named_shipped", template_language="en_US",
        template_components=[TemplateBody(first_name="Ana", order_id="42")], enqueue=False,
    )  # fmt: skip
    assert message.status == Message.Status.SENT
    [sent] = sandbox.sent_messages(to=CUSTOMER)
    assert sent["payload"]["template"]["components"][0]["parameters"][1] == {
        "type": "text", "parameter_name": "order_id", "text": "42"}  # fmt: skip
    refused = marketer.post("templates", {"name": "x_y", "language": "en_US", "category": "UTILITY",
                                          "components": [body], "parameter_format": "named"})  # fmt: skip
    assert refused.status_code == 400 and "parameter_format" in refused.json()["details"]
