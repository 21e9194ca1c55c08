"""The REST API's resources against the sandbox: templates (list, create with the bodies
of seeds 000 and 004, sync, register the default set), integrations (seed 002), contacts
and media."""

from __future__ import annotations

import hashlib

import pytest
from api_test_helpers import ACCESS_TOKEN, JPEG, PNG, Api, error_of, member
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from wacloud_test_helpers import WABA_ID

from wacloud_django.models import BusinessAccount, Contact, MediaFile, Message, Template

pytestmark = pytest.mark.django_db

NEW_PHONE_NUMBER_ID = "2233445566778"


@pytest.fixture
def api(account):
    return Api(member(account, "admin"))


# -- templates --------------------------------------------------------------------------------------


def stored_template(name, language="en_US", status="APPROVED", category="UTILITY", account=None):
    return Template.objects.create(
        account=account, waba_id=WABA_ID, name=name, language=language, status=status, category=category
    )


def test_templates_filter_by_status_category_and_language(account, api):
    stored_template("welcome", "en_US", "APPROVED", "UTILITY", account)
    stored_template("welcome", "pt_BR", "PENDING", "UTILITY", account)
    stored_template("promo", "en_US", "REJECTED", "MARKETING", account)

    def names(**params):
        answer = api.get("templates", params).json()
        assert answer["success"] is True
        return sorted((t["name"], t["language"]) for t in answer["results"])

    assert len(names()) == 3
    assert names(status="APPROVED") == [("welcome", "en_US")]
    assert names(status="pending") == [("welcome", "pt_BR")]
    assert names(category="MARKETING") == [("promo", "en_US")]
    assert names(language="en_US") == [("promo", "en_US"), ("welcome", "en_US")]


def test_seed_000_template_body_creates_it_at_meta(sandbox, account, api):
    body = {
        "template_name": "appointment_reminder",
        "category": "UTILITY",
        "language_code": "en",
        "components": [{"type": "body", "text": "Hello {{1}}, your appointment is scheduled for {{2}}.",
                        "example": {"body_text": [["John", "Monday"]]}}],
    }  # fmt: skip
    response = api.post("templates", body)
    assert response.status_code == 201, response.content
    template = response.json()["template"]
    assert (template["name"], template["language"], template["category"]) == (
        "appointment_reminder",
        "en",
        "UTILITY",
    )
    [remote] = [t for t in sandbox.templates() if t["name"] == "appointment_reminder"]
    assert remote["language"] == "en" and remote["id"] == template["template_id"]
    assert Template.objects.get(name="appointment_reminder").status == remote["status"]


def test_seed_004_template_body_maps_transactional_to_utility(sandbox, account, api):
    body = {
        "name": "custom_template",
        "category": "TRANSACTIONAL",
        "language": "pt_BR",
        "components": [{"type": "BODY", "text": "Olá {{1}}! Seu chamado {{2}} foi atualizado.",
                        "example": {"body_text": [["Maria", "1234"]]}}],
    }  # fmt: skip
    response = api.post("templates", body)
    assert response.status_code == 201, response.content
    assert response.json()["template"]["category"] == "UTILITY"
    [remote] = [t for t in sandbox.templates() if t["name"] == "custom_template"]
    assert remote["category"] == "UTILITY" and remote["language"] == "pt_BR"


def test_template_create_without_name_or_language_names_the_fields(sandbox, account, api):
    body = {"category": "UTILITY", "components": [{"type": "BODY", "text": "x"}]}
    details = error_of(api.post("templates", body), 400, "VALIDATION_ERROR")["details"]
    assert "name" in details and "language" in details
    assert len(sandbox.templates()) == 1  # only hello_world


def test_template_with_an_unknown_category_is_refused_before_meta(sandbox, account, api):
    body = {
        "name": "x",
        "language": "en",
        "category": "GOSSIP",
        "components": [{"type": "BODY", "text": "x"}],
    }
    assert "category" in error_of(api.post("templates", body), 400, "INVALID_PARAMETER")["error"]
    assert len(sandbox.templates()) == 1


def test_templates_sync_stores_metas_list(sandbox, account, api):
    answer = api.post("templates/sync").json()
    assert answer["success"] is True and answer["counts"]["created"] == 1
    assert Template.objects.get().name == "hello_world"
    assert api.post("templates/sync").json()["counts"]["unchanged"] == 1


def test_templates_register_submits_the_default_set_once(sandbox, account, api):
    answer = api.post("templates/register").json()
    assert answer["success"] is True and answer["failed"] == []
    names = ["ticket_created", "ticket_updated", "ticket_assigned", "ticket_resolved", "agent_response",
             "sla_warning"]  # fmt: skip
    expected = {(name, language) for name in names for language in ("en_US", "pt_BR")}
    assert {(t["name"], t["language"]) for t in answer["created"]} == expected
    assert {(t["name"], t["language"]) for t in sandbox.templates()} >= expected
    again = api.post("templates/register").json()
    assert again["created"] == [] and {(t["name"], t["language"]) for t in again["skipped"]} == expected
    assert len(sandbox.templates()) == 13  # hello_world and the twelve


# -- integrations ---------------------------------------------------------------------------------


def integration_body(**changes):
    body = {
        "name": "Main Business Number",
        "phone_number": "+55 11 3333-4444",
        "phone_number_id": NEW_PHONE_NUMBER_ID,
        "business_account_id": "998877665544",
        "access_token": "EAAG-new-integration-token",
    }
    return {**body, **changes}


def test_create_integration_shows_the_verify_token_once_and_never_the_access_token(account, api):
    response = api.post("integrations", integration_body())
    assert response.status_code == 201, response.content
    created = response.json()["integration"]
    assert created["verify_token"] and len(created["verify_token"]) >= 20
    assert created["webhook_url"].endswith(f"/whatsapp/webhook/{NEW_PHONE_NUMBER_ID}/")
    assert created["webhook_url"].startswith("http")
    assert created["has_access_token"] is True and "access_token" not in created
    assert "EAAG-new-integration-token" not in response.content.decode()
    stored = BusinessAccount.objects.get(phone_number_id=NEW_PHONE_NUMBER_ID)
    assert stored.organization_id == account.organization_id
    assert "EAAG-new-integration-token" not in stored.access_token_encrypted
    assert stored.access_token == "EAAG-new-integration-token"
    assert stored.verify_token == created["verify_token"]
    for answer in (api.get(f"integrations/{stored.pk}"), api.get("integrations")):
        text = answer.content.decode()
        assert "EAAG-new-integration-token" not in text and created["verify_token"] not in text
        assert ACCESS_TOKEN not in text


def test_list_and_detail(account, api):
    api.post("integrations", integration_body())
    listed = api.get("integrations").json()
    assert listed["count"] == 2
    assert {i["phone_number_id"] for i in listed["results"]} == {account.phone_number_id, NEW_PHONE_NUMBER_ID}
    detail = api.get(f"integrations/{account.pk}").json()["integration"]
    assert detail["phone_number_id"] == account.phone_number_id and detail["business_account_id"] == WABA_ID
    error_of(api.get("integrations/999999"), 404, "NOT_FOUND")


def test_patch_and_toggle(account, api):
    answer = api.patch(f"integrations/{account.pk}", {"name": "Renamed", "rate_limit_per_second": 20}).json()
    assert answer["integration"]["name"] == "Renamed"
    account.refresh_from_db()
    assert account.name == "Renamed" and account.rate_limit_per_second == 20
    assert api.post(f"integrations/{account.pk}/toggle").json()["integration"]["is_active"] is False
    account.refresh_from_db()
    assert account.is_active is False
    assert api.post(f"integrations/{account.pk}/toggle").json()["integration"]["is_active"] is True


def test_connection_test_against_the_sandbox(sandbox, account, api):
    answer = api.post(f"integrations/{account.pk}/test").json()
    assert answer["success"] is True and answer["ok"] is True
    assert answer["phone_number_id"] == account.phone_number_id
    assert api.post("test").json()["ok"] is True  # seed 004's path, for the only account
    api.patch(f"integrations/{account.pk}", {"access_token": "EAAG-wrong"})
    failed = api.post(f"integrations/{account.pk}/test").json()
    assert failed["ok"] is False and failed["error"] and failed["code"] == 190
    assert "EAAG-wrong" not in str(failed)


def test_delete_archives_and_purge_deletes(account, api):
    Message.objects.create(account=account, direction="inbound", type="text", text="old", status="received")
    assert api.delete(f"integrations/{account.pk}").json()["result"] == "archived"
    account.refresh_from_db()
    assert account.archived_at is not None and account.is_active is False
    assert Message.objects.filter(account=account).count() == 1  # history kept
    assert api.get("integrations").json()["count"] == 0
    assert api.get("integrations", {"archived": "true"}).json()["count"] == 1
    assert api.delete(f"integrations/{account.pk}?purge=true").json()["result"] == "purged"
    assert not BusinessAccount.objects.filter(pk=account.pk).exists()
    assert not Message.objects.exists()


def test_duplicate_phone_number_id_is_refused(account, api):
    response = api.post("integrations", integration_body(phone_number_id=account.phone_number_id))
    assert "phone_number_id" in error_of(response, 400, "VALIDATION_ERROR")["details"]
    assert BusinessAccount.objects.count() == 1
    other = api.post("integrations", integration_body()).json()["integration"]
    response = api.patch(f"integrations/{other['id']}", {"phone_number_id": account.phone_number_id})
    assert "phone_number_id" in error_of(response, 400, "VALIDATION_ERROR")["details"]


def test_create_without_access_token_names_it(account, api):
    response = api.post("integrations", integration_body(access_token=""))
    assert "access_token" in error_of(response, 400, "VALIDATION_ERROR")["details"]


# -- contacts -----------------------------------------------------------------------------------------


def test_create_normalizes_the_number(account, api):
    response = api.post("contacts", {"wa_id": "+55 (11) 98765-4321", "name": "Maria", "tags": ["vip"]})
    assert response.status_code == 201, response.content
    contact = response.json()["contact"]
    assert contact["wa_id"] == "5511987654321" and contact["name"] == "Maria" and contact["tags"] == ["vip"]
    again = api.post("contacts", {"wa_id": "5511987654321"})
    assert again.status_code == 200 and again.json()["created"] is False
    error_of(api.post("contacts", {"wa_id": "+999 12"}), 400, "INVALID_PHONE_NUMBER")
    assert "wa_id" in error_of(api.post("contacts", {"name": "x"}), 400, "VALIDATION_ERROR")["details"]


def test_search_and_tag_filter(account, api):
    Contact.objects.create(account=account, wa_id="5511999990001", name="Maria Souza", tags=["vip", "lead"])
    Contact.objects.create(account=account, wa_id="5511999990002", name="João", tags=["lead"])
    Contact.objects.create(account=account, wa_id="5511999990003", name="Pedro", tags=["vipx"])

    def numbers(**params):
        return sorted(c["wa_id"] for c in api.get("contacts", params).json()["results"])

    assert numbers(search="souza") == ["5511999990001"]
    assert numbers(search="+5511999990002") == ["5511999990002"]
    assert numbers(tag="vip") == ["5511999990001"]
    assert numbers(tag="lead") == ["5511999990001", "5511999990002"]


def test_patch_tags_name_and_opt_out(account, api):
    contact = Contact.objects.create(account=account, wa_id="5511999990001")
    answer = api.patch(
        f"contacts/{contact.pk}", {"name": "Maria", "tags": ["b", "a", "a"], "opted_out": True}
    )
    assert answer.json()["contact"]["tags"] == ["a", "b"]
    contact.refresh_from_db()
    assert (contact.name, contact.tags, contact.opted_out) == ("Maria", ["a", "b"], True)
    assert contact.opted_out_at is not None


def test_link_to_a_host_object_and_unlink(account, api):
    contact = Contact.objects.create(account=account, wa_id="5511999990001")
    user = get_user_model().objects.create_user("customer")
    linked = {"model": "auth.user", "id": user.pk}
    answer = api.patch(f"contacts/{contact.pk}", {"linked_object": linked}).json()
    assert answer["contact"]["linked_object"] == {"model": "auth.user", "id": str(user.pk)}
    contact.refresh_from_db()
    assert contact.linked_content_type.model == "user" and contact.linked_object_id == str(user.pk)
    assert api.get(f"contacts/{contact.pk}").json()["contact"]["linked_object"]["id"] == str(user.pk)
    assert (
        api.patch(f"contacts/{contact.pk}", {"linked_object": None}).json()["contact"]["linked_object"]
        is None
    )
    contact.refresh_from_db()
    assert contact.linked_content_type is None and contact.linked_object_id == ""


@pytest.mark.parametrize("linked", [{"model": "nope.thing", "id": 1}, {"model": "auth.user", "id": 999999}])
def test_link_to_a_missing_model_or_object_is_400(account, api, linked):
    contact = Contact.objects.create(account=account, wa_id="5511999990001")
    response = api.patch(f"contacts/{contact.pk}", {"linked_object": linked})
    assert "linked_object" in error_of(response, 400, "INVALID_PARAMETER")["error"]
    contact.refresh_from_db()
    assert contact.linked_content_type is None


# -- media --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, name, content_type",
    [
        (PNG, "dot.png", "image/png"),
        (JPEG, "dot.jpg", "image/jpeg"),
        (PNG, "dot.bin", "application/octet-stream"),  # curl's type for a name it cannot place
    ],
)
def test_upload_reaches_the_sandbox_and_is_kept_with_its_hash(
    sandbox, account, api, data, name, content_type
):
    upload = SimpleUploadedFile(name, data, content_type=content_type)
    response = api.post("media", {"file": upload}, format="multipart")
    assert response.status_code == 201, response.content
    media = response.json()["media"]
    assert media["sha256"] == hashlib.sha256(data).hexdigest() and media["size"] == len(data)
    assert sandbox.media_bytes(media["media_id"]) == data
    stored = MediaFile.objects.get(media_id=media["media_id"])
    assert stored.file.read() == data
    record = api.get(f"media/{media['id']}").json()["media"]
    assert record["media_id"] == media["media_id"] and record["mime_type"].startswith("image/")
    assert api.get(f"media/{media['media_id']}").json()["media"]["id"] == media["id"]
    download = api.get(f"media/{media['id']}", {"download": 1})
    assert download.status_code == 200 and b"".join(download.streaming_content) == data
    assert download["Content-Type"] == record["mime_type"]


def test_upload_over_the_limit_is_413(sandbox, account, api, settings):
    settings.WACLOUD = {**settings.WACLOUD, "API_MEDIA_MAX_BYTES": len(PNG) - 1}
    upload = SimpleUploadedFile("dot.png", PNG, content_type="image/png")
    response = api.post("media", {"file": upload}, format="multipart")
    error_of(response, 413, "FILE_TOO_LARGE")
    assert not MediaFile.objects.exists()


@pytest.mark.parametrize(
    "name, data, content_type",
    [
        ("setup.exe", b"MZ\x90\x00 not media", "application/x-msdownload"),
        ("setup.bin", b"MZ\x90\x00 not media", "application/octet-stream"),
        ("archive.zip", b"PK\x03\x04 a zip", "application/zip"),
        ("photo.png", b"MZ\x90\x00 not media", "image/png"),  # the bytes say otherwise
    ],
)
def test_upload_of_a_non_media_file_is_rejected(sandbox, account, api, name, data, content_type):
    upload = SimpleUploadedFile(name, data, content_type=content_type)
    error_of(api.post("media", {"file": upload}, format="multipart"), 400, "MEDIA_REJECTED")
    assert not MediaFile.objects.exists()
