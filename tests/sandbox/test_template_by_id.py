"""A template by its id: ``GET /<TEMPLATE_ID>`` and Meta's edit, ``POST /<TEMPLATE_ID>``, with
Meta's rules (template management reference, "Edit templates"): only APPROVED, REJECTED or
PAUSED templates, not a locked one; only the category and the components, which replace all
the old ones; not an approved template's category; an approved template at most once in 24
hours and 10 times in 30 days (on the sandbox clock), rejected and paused ones without limit;
an edit goes back to review. Ids that are not templates still reach their own routes."""

from __future__ import annotations

import pytest
from sandbox_support import assert_valid_error
from test_media_templates import create, upload

DAY = 24 * 3600
BODY = [{"type": "BODY", "text": "Your order {{1}} has shipped."}]
NEW = [
    {"type": "BODY", "text": "Good news: order {{1}} is on its way."},
    {"type": "FOOTER", "text": "Thanks"},
]


def template_id(graph, name="order_note", **extra):
    reply = create(graph, name, BODY, **extra)
    assert reply.status == 200, reply.body
    return reply.body["id"]


def stored(wa_sandbox, template_id):
    return next(t for t in wa_sandbox.templates() if t["id"] == template_id)


def edit(graph, template_id, **body):
    return graph.request("POST", f"/{template_id}", body)


# -- GET ---------------------------------------------------------------------------------------
def test_get_answers_the_default_fields_or_those_asked(graph, wa_sandbox):
    wa_sandbox.config.auto_approve_templates = False
    tid = template_id(graph)
    reply = graph.request("GET", f"/{tid}")
    assert reply.status == 200
    assert reply.body == {
        "name": "order_note",
        "parameter_format": "POSITIONAL",
        "components": BODY,
        "language": "en_US",
        "status": "PENDING",
        "category": "UTILITY",
        "id": tid,
    }
    assert graph.request("GET", f"/{tid}?fields=status,quality_score").body == {
        "status": "PENDING",
        "id": tid,
    }
    error = assert_valid_error(graph.request("GET", f"/{tid}?fields=nope"), 100, 400)
    assert (
        error["message"]
        == "(#100) Tried accessing nonexisting field (nope) on node type (WhatsAppBusinessHSM)"
    )


def test_other_ids_still_reach_their_routes(graph):
    assert graph.request("GET", f"/{graph.phone}").body["id"] == graph.phone
    media_id = upload(graph).body["id"]
    assert graph.request("GET", f"/{media_id}").body["id"] == media_id
    for method in ("GET", "POST"):  # no such object: Graph's unknown-object error, not a template's
        assert assert_valid_error(graph.request(method, "/999000111", {}), 100, 400)["error_subcode"] == 33


# -- edits -------------------------------------------------------------------------------------
def test_an_edit_replaces_the_components_and_goes_back_to_review(graph, wa_sandbox):
    tid = template_id(graph)
    wa_sandbox.wait_for_webhooks(kind="template.approved")
    reply = edit(graph, tid, components=NEW, name="order_note", language="en_US")
    assert reply.status == 200 and reply.body == {"success": True}
    assert stored(wa_sandbox, tid)["components"] == NEW and stored(wa_sandbox, tid)["status"] == "PENDING"
    assert len(wa_sandbox.wait_for_webhooks(count=2, kind="template.approved")) == 2  # reviewed again
    assert stored(wa_sandbox, tid)["status"] == "APPROVED"


@pytest.mark.parametrize("status", ["PENDING", "DISABLED", "IN_APPEAL"])
def test_only_approved_rejected_or_paused_templates_can_be_edited(graph, wa_sandbox, status):
    wa_sandbox.config.auto_approve_templates = False
    tid = template_id(graph)
    if status != "PENDING":
        wa_sandbox.set_template_status("order_note", status)
    error = assert_valid_error(edit(graph, tid, components=NEW), 100, 400)
    assert error["error_user_title"] == "Template can't be edited" and status in error["error_user_msg"]
    assert stored(wa_sandbox, tid)["components"] == BODY


def test_a_locked_template_cannot_be_edited(graph, wa_sandbox):
    wa_sandbox.config.auto_approve_templates = False
    tid = template_id(graph)
    wa_sandbox.set_template_status("order_note", "APPROVED")
    wa_sandbox.set_template_status("order_note", "LOCKED")
    error = assert_valid_error(edit(graph, tid, components=NEW), 100, 400)
    assert "LOCKED" in error["error_user_msg"]


def test_an_approved_templates_category_stays_a_rejected_ones_may_change(graph, wa_sandbox):
    wa_sandbox.config.auto_approve_templates = False
    tid = template_id(graph)
    wa_sandbox.set_template_status("order_note", "APPROVED")
    error = assert_valid_error(edit(graph, tid, category="MARKETING"), 100, 400)
    assert error["error_user_msg"] == "You cannot edit the category of an approved template."
    assert edit(graph, tid, category="utility").status == 200  # the same category is no change
    wa_sandbox.reject_template("order_note")
    assert edit(graph, tid, category="MARKETING").status == 200
    assert stored(wa_sandbox, tid)["category"] == "MARKETING"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, "category, the components or both"),
        ({"name": "renamed", "components": NEW}, "not name"),
        ({"language": "pt_BR", "components": NEW}, "not language"),
        ({"parameter_format": "NAMED", "components": NEW}, "not parameter_format"),
        ({"components": [{"type": "FOOTER", "text": "no body"}]}, "exactly one BODY"),
        ({"components": [{"type": "BODY", "text": "Hi {{2}} there"}]}, "numbered"),
        ({"category": "SPAM"}, "category must be one of"),
    ],
)
def test_an_edit_meta_refuses_changes_nothing(graph, wa_sandbox, body, words):
    wa_sandbox.config.auto_approve_templates = False
    tid = template_id(graph)
    wa_sandbox.reject_template("order_note")
    error = assert_valid_error(edit(graph, tid, **body), 100, 400)
    assert words in error["error_user_msg"]
    template = stored(wa_sandbox, tid)
    assert (template["components"], template["category"], template["status"]) == (BODY, "UTILITY", "REJECTED")


def test_approved_edits_are_limited_to_one_a_day_and_ten_in_thirty_days(graph, wa_sandbox):
    wa_sandbox.config.auto_approve_templates = False
    tid = template_id(graph)

    def approve_and_edit():
        wa_sandbox.set_template_status("order_note", "APPROVED")
        return edit(graph, tid, components=NEW)

    assert approve_and_edit().status == 200
    error = assert_valid_error(approve_and_edit(), 100, 400)
    assert error["error_user_title"] == "Edit limit reached"
    for _ in range(9):  # nine more, a day apart: ten within 30 days
        wa_sandbox.advance_clock(DAY + 1)
        assert approve_and_edit().status == 200
    wa_sandbox.advance_clock(DAY + 1)
    assert_valid_error(approve_and_edit(), 100, 400)  # the eleventh in 30 days
    wa_sandbox.advance_clock(20 * DAY)  # the first edit is now more than 30 days old
    assert approve_and_edit().status == 200


@pytest.mark.parametrize("status", ["REJECTED", "PAUSED"])
def test_rejected_and_paused_templates_are_edited_without_limit(graph, wa_sandbox, status):
    wa_sandbox.config.auto_approve_templates = False
    tid = template_id(graph)
    for _ in range(3):
        wa_sandbox.set_template_status("order_note", status)
        assert edit(graph, tid, components=NEW).status == 200
