"""A contact's rights (docs/privacy.md): the export archive, erasure (redacted, removed,
pseudonymized, consent history kept, re-contacts not merged), from the service, the
commands, the REST API (admin role, tenancy) and the admin, all audited."""

from __future__ import annotations

import json
import zipfile
from io import BytesIO, StringIO

import pytest
from api_support import PNG, Api, member, tenant_a, tenant_b
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from wacloud_test_helpers import USER, text_message

from wacloud_django.automation.services.consent import record_opt_out
from wacloud_django.models import AuditEntry, ConsentRecord, Contact, MediaFile, Message, WebhookEvent
from wacloud_django.services import privacy
from wacloud_django.services.contacts import update_contact

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(account, post_webhook):
    """A contact who wrote in (through a signed webhook), sent an image, opted out, was
    renamed by an agent and has a reply waiting in the outbox."""
    assert post_webhook(text_message("wamid.p1", "I live at 1 Main St", wa_id=USER)).status_code == 200
    contact = Contact.objects.get(account=account, wa_id=USER)
    inbound = Message.objects.get(wamid="wamid.p1")
    media = MediaFile.objects.create(
        account=account, message=inbound, media_id="media-p1", mime_type="image/png", filename="me.png"
    )
    media.file.save("me.png", ContentFile(PNG))
    record_opt_out(contact, True, text="STOP")
    update_contact(contact, {"name": "Ana Real", "tags": ["vip"]})
    queued = Message.objects.create(
        account=account,
        contact=contact,
        direction="outbound",
        type="text",
        text="your order",
        content={"body": "your order"},
        status="queued",
    )
    contact.refresh_from_db()
    return contact, inbound, media, queued


def _archive(data: bytes) -> tuple[dict, zipfile.ZipFile]:
    archive = zipfile.ZipFile(BytesIO(data))
    return json.loads(archive.read("contact.json")), archive


def test_export_holds_everything_stored_about_the_contact(person):
    contact, inbound, _, queued = person
    document, archive = _archive(privacy.export_contact(contact))
    assert document["format"] == privacy.EXPORT_FORMAT
    assert document["contact"]["wa_id"] == USER and document["contact"]["name"] == "Ana Real"
    assert {m["id"] for m in document["messages"]} == {inbound.pk, queued.pk}
    assert "I live at 1 Main St" in {m["text"] for m in document["messages"]}
    assert len(document["conversations"]) == 1
    (exported_media,) = document["media"]
    assert archive.read(exported_media["archive_path"]) == PNG
    assert [(r["status"], r["text"]) for r in document["consent_history"]] == [("revoked", "STOP")]
    assert "contact.update" in {entry["action"] for entry in document["audit_entries"]}
    exported = AuditEntry.objects.get(action="contact.export")
    assert exported.object_id == str(contact.pk) and exported.changes["media_files"] == 1


def test_export_writes_to_a_path(person, tmp_path):
    contact = person[0]
    assert privacy.export_contact(contact, tmp_path / "out.zip") is None
    document, _ = _archive((tmp_path / "out.zip").read_bytes())
    assert document["contact"]["id"] == contact.pk


def test_erase_redacts_removes_and_pseudonymizes_but_keeps_consent(person, account, post_webhook):
    contact, inbound, media, queued = person
    storage, file_name = media.file.storage, media.file.name
    assert WebhookEvent.objects.filter(pk__isnull=False).count() == 1

    counts = privacy.erase_contact(contact)

    expected = privacy.pseudonym(account.pk, USER)
    assert counts["pseudonym"] == expected and expected.startswith(privacy.PSEUDONYM_PREFIX)
    assert USER not in expected
    contact.refresh_from_db()
    assert (contact.wa_id, contact.name, contact.profile, contact.tags) == (expected, "", {}, [])
    for message in Message.objects.filter(contact=contact):
        assert message.text == "" and message.content["redacted"] and message.raw["redacted"]
    inbound.refresh_from_db()
    assert (inbound.status, inbound.wamid, inbound.direction) == ("received", "wamid.p1", "inbound")
    queued.refresh_from_db()
    assert (queued.status, queued.failure_kind) == ("failed", "permanent")  # never sent now
    assert not MediaFile.objects.filter(pk=media.pk).exists() and not storage.exists(file_name)
    # The stored webhook body named the number: reprocessing it would bring everything back.
    assert counts["webhook_events_deleted"] == 1 and not WebhookEvent.objects.exists()
    # The consent history stays (the proof), attached to the pseudonym only.
    (consent,) = ConsentRecord.objects.all()
    assert consent.contact_id == contact.pk and consent.status == "revoked"
    assert counts["consent_records_kept"] == 1
    # Audit entries about the contact keep who did what, without the name or the number.
    for entry in AuditEntry.objects.filter(object_type="wacloud.Contact", object_id=str(contact.pk)):
        assert USER not in entry.object_repr and "Ana" not in entry.object_repr
        assert "Ana Real" not in json.dumps(entry.changes)
    erased = AuditEntry.objects.get(action="contact.erase")
    assert erased.changes["messages_redacted"] == 2 and erased.object_repr == expected

    # Stable: erasing again changes nothing, and the number finds its erased record.
    again = privacy.erase_contact(contact)
    assert again["pseudonym"] == expected and again["messages_redacted"] == 0
    assert privacy.find_erased_contact(account.pk, USER) == contact

    # The same number writing again is a new contact: nothing merges with the erased one.
    assert post_webhook(text_message("wamid.p2", "hi again", wa_id=USER)).status_code == 200
    fresh = Contact.objects.get(account=account, wa_id=USER)
    assert fresh.pk != contact.pk
    assert not fresh.consent_records.exists() and not fresh.opted_out
    assert Message.objects.get(wamid="wamid.p2").contact_id == fresh.pk


def test_commands_export_and_erase(person, tmp_path):
    contact = person[0]
    out = StringIO()
    path = tmp_path / "c.zip"
    call_command("whatsapp_export_contact", f"+{USER}", "-o", str(path), "--format", "json", stdout=out)
    assert json.loads(out.getvalue()) == {"contact": contact.pk, "path": str(path)}
    assert _archive(path.read_bytes())[0]["contact"]["wa_id"] == USER
    assert AuditEntry.objects.get(action="contact.export").source == "command"

    with pytest.raises(CommandError, match="--yes"):
        call_command("whatsapp_erase_contact", str(contact.pk), stdout=StringIO())
    contact.refresh_from_db()
    assert contact.wa_id == USER
    with pytest.raises(CommandError, match="no contact"):
        call_command("whatsapp_erase_contact", "972000000000", "--yes", stdout=StringIO())

    out = StringIO()
    call_command("whatsapp_erase_contact", str(contact.pk), "--yes", "--format", "json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["contact"] == contact.pk and report["messages_redacted"] == 2
    contact.refresh_from_db()
    assert contact.wa_id == report["pseudonym"]
    assert AuditEntry.objects.get(action="contact.erase").source == "command"


def test_api_export_and_erase_need_admin_and_stay_in_the_organization(client):
    a, b = tenant_a(), tenant_b()
    admin = Api(client, member(a.organization, "admin"))
    agent = Api(client, member(a.organization, "agent"))

    response = admin.get(f"contacts/{a.contact.pk}/export")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    document, archive = _archive(response.content)
    assert document["contact"]["wa_id"] == a.contact.wa_id
    assert archive.read(document["media"][0]["archive_path"]) == PNG
    exported = AuditEntry.objects.get(action="contact.export")
    assert (exported.source, exported.actor_label, exported.organization) == (
        "api",
        "org-a-admin",
        a.organization,
    )

    assert admin.get(f"contacts/{b.contact.pk}/export").status_code == 404
    assert admin.post(f"contacts/{b.contact.pk}/erase").status_code == 404
    assert agent.get(f"contacts/{a.contact.pk}/export").status_code == 403
    assert agent.post(f"contacts/{a.contact.pk}/erase").status_code == 403
    b.contact.refresh_from_db()
    assert b.contact.wa_id == "972500000002" and b.contact.name

    response = admin.post(f"contacts/{a.contact.pk}/erase/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] and body["erased"]["messages_redacted"] == 2
    a.contact.refresh_from_db()
    assert a.contact.wa_id == body["erased"]["pseudonym"] and a.contact.name == ""
    erased = AuditEntry.objects.get(action="contact.erase")
    assert (erased.source, erased.actor_label) == ("api", "org-a-admin")


def test_admin_actions_export_and_erase(admin_client, client):
    a = tenant_a()
    url = reverse("admin:wacloud_contact_changelist")
    response = admin_client.post(url, {"action": "export_contacts", "_selected_action": [a.contact.pk]})
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert _archive(response.content)[0]["contact"]["id"] == a.contact.pk
    assert AuditEntry.objects.get(action="contact.export").source == "admin"

    confirm = admin_client.post(url, {"action": "erase_contacts", "_selected_action": [a.contact.pk]})
    assert confirm.status_code == 200 and b"cannot be undone" in confirm.content
    a.contact.refresh_from_db()
    assert not privacy.is_erased(a.contact)
    done = admin_client.post(
        url, {"action": "erase_contacts", "_selected_action": [a.contact.pk], "confirm": "yes"}
    )
    assert done.status_code == 302
    a.contact.refresh_from_db()
    assert privacy.is_erased(a.contact)
    assert AuditEntry.objects.get(action="contact.erase").source == "admin"

    # Staff whose role is below admin see the contact but cannot export or erase it.
    b = tenant_b()
    staff = member(b.organization, "agent", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_contact", "change_contact"]))
    client.force_login(staff)
    refused = client.post(
        url, {"action": "erase_contacts", "_selected_action": [b.contact.pk], "confirm": "yes"}
    )
    assert refused.status_code == 302
    b.contact.refresh_from_db()
    assert not privacy.is_erased(b.contact)
    assert not AuditEntry.objects.filter(action="contact.erase", object_id=str(b.contact.pk)).exists()


def test_help_desk_tickets_are_exported_and_their_text_erased(account, post_webhook, sandbox, settings):
    from wacloud_django.helpdesk.models import Ticket, TicketComment

    settings.WACLOUD = {**settings.WACLOUD, "HELPDESK": {"ENABLED": True}}
    sandbox.inject_inbound(**{"from": USER}, name="Ana", type="text", text="my order is late")
    post_webhook(text_message("wamid.t1", "my order is late"))
    post_webhook(text_message("wamid.t2", "order 1234, since Monday", timestamp=1697043300))
    contact = Contact.objects.get(wa_id=USER)
    ticket = Ticket.objects.get(contact=contact)
    document, _ = _archive(privacy.export_contact(contact))
    (exported,) = document["tickets"]
    assert exported["number"] == ticket.number
    assert "order 1234, since Monday" in [c["text"] for c in exported["comments"]]

    counts = privacy.erase_contact(contact)
    assert counts["ticket_comments_redacted"] >= 1
    assert not TicketComment.objects.filter(ticket=ticket).exclude(text="").exists()
    ticket.refresh_from_db()
    assert ticket.subject == ""
