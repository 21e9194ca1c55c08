"""``whatsapp_register_templates`` and the accounts' "Register default templates" admin
action (seed 004's default set, services/default_templates.py) against the sandbox."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from wacloud_django.models import Template
from wacloud_django.services.clients import client_for
from wacloud_django.services.default_templates import DEFAULT_TEMPLATES

pytestmark = pytest.mark.django_db

EVERY = {(name, language) for name in DEFAULT_TEMPLATES for language in ("en_US", "pt_BR")}


def register(*args):
    """Run the command with ``--format json``: (its document, the CommandError or None)."""
    out = StringIO()
    error = None
    try:
        call_command("whatsapp_register_templates", *args, "--format", "json", stdout=out, stderr=StringIO())
    except CommandError as raised:
        error = raised
    return json.loads(out.getvalue()), error


def pairs(entries):
    return {(entry["name"], entry["language"]) for entry in entries}


def test_registers_the_default_set_then_skips_it(sandbox, account):
    first, error = register()
    assert error is None and first["failed"] == [] and first["skipped"] == []
    assert pairs(first["created"]) == EVERY and first["account"] == account.phone_number_id
    assert pairs(sandbox.templates()) >= EVERY
    again, error = register("--account", account.phone_number_id)
    assert error is None and again["created"] == [] and pairs(again["skipped"]) == EVERY
    assert len(sandbox.templates()) == 13  # hello_world and the twelve


def test_language_is_repeatable_and_text_output_lists_each_template(sandbox, account):
    out = StringIO()
    call_command("whatsapp_register_templates", "--business-account-id", account.waba_id,
                 "--language", "pt_BR", stdout=out)  # fmt: skip
    text = out.getvalue()
    assert text.startswith("Created 6, skipped 0 (already there), failed 0.")
    assert "created  sla_warning (pt_BR): PENDING" in text
    assert set(Template.objects.values_list("language", flat=True)) == {"pt_BR"}


def test_a_template_meta_refuses_is_reported_while_the_others_are_created(sandbox, account):
    # Already at Meta but unknown to this database: Meta refuses the duplicate (subcode 2388024).
    body = [{"type": "BODY", "text": "Ticket #{{1}} is due soon.", "example": {"body_text": [["1"]]}}]
    client_for(account).create_template("sla_warning", "en_US", "UTILITY", body)
    result, error = register()
    assert error is not None and "1 template(s) not registered" in str(error)
    (failed,) = result["failed"]
    assert (failed["name"], failed["language"], failed["code"]) == ("sla_warning", "en_US", 100)
    assert pairs(result["created"]) == EVERY - {("sla_warning", "en_US")}


def test_a_language_without_texts_fails_after_reporting_everything(sandbox, account):
    result, error = register("--language", "en_US", "--language", "de_DE")
    assert error is not None
    assert len(result["created"]) == 6 and {f["language"] for f in result["failed"]} == {"de_DE"}


def test_admin_action_registers_for_the_selected_accounts(sandbox, account, admin_client):
    url = reverse("admin:wacloud_businessaccount_changelist")
    action = {"action": "register_default_templates_action", "_selected_action": [account.pk]}
    response = admin_client.post(url, action, follow=True)
    assert any("created 12, skipped 0, failed 0." in str(m) for m in response.context["messages"])
    response = admin_client.post(url, action, follow=True)
    assert any("created 0, skipped 12, failed 0." in str(m) for m in response.context["messages"])
