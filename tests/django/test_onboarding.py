"""An integration's number at Meta through the REST API and the admin, against the sandbox:
verification, registration, PIN, webhook subscription (and on setup), the WABA's numbers, QR
codes and the block list. Roles: admins manage the number, agents block contacts."""

from __future__ import annotations

import pytest
from api_test_helpers import CUSTOMER, Api, customer_writes, error_of, member
from wacloud_test_helpers import PHONE_NUMBER_ID, WABA_ID

from wacloud.sandbox import WebhookCollector
from wacloud_django.models import AuditEntry, BusinessAccount, Contact
from wacloud_django.services import integrations

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(account):
    return Api(member(account, "admin"))


def path(account, edge: str) -> str:
    return f"integrations/{account.pk}/{edge}"


def test_a_new_number_is_verified_registered_and_given_a_pin(sandbox, account, admin):
    sandbox.set_number(registered=False, verified=False)
    assert (
        admin.post(path(account, "request-code"), {"code_method": "VOICE", "language": "pt_BR"}).status_code
        == 200
    )
    wrong = error_of(admin.post(path(account, "verify-code"), {"code": "000000"}), 400, "WHATSAPP_API_ERROR")
    assert wrong["details"]["code"] == 136025
    assert (
        admin.post(path(account, "verify-code"), {"code": sandbox.number()["pending_code"]}).status_code
        == 200
    )
    assert admin.post(path(account, "register"), {"pin": "271828"}).status_code == 200
    assert sandbox.number()["registered"] is True and sandbox.number()["pin"] == "271828"
    assert admin.post(path(account, "pin"), {"pin": "314159"}).status_code == 200
    mismatch = error_of(admin.post(path(account, "register"), {"pin": "271828"}), 400, "WHATSAPP_API_ERROR")
    assert mismatch["details"]["code"] == 133005
    assert admin.post(path(account, "deregister")).status_code == 200
    assert sandbox.number()["registered"] is False
    actions = list(
        AuditEntry.objects.filter(action__startswith="number.")
        .order_by("pk")
        .values_list("action", "changes")
    )
    assert [a for a, _ in actions] == [
        "number.request_code", "number.verify_code", "number.register", "number.set_pin", "number.deregister",
    ]  # fmt: skip
    assert "271828" not in str(actions) and "314159" not in str(actions)  # PINs are never audited


def test_bad_input_is_refused_before_meta_is_asked(sandbox, account, admin):
    before = sandbox.graph_requests()
    error_of(admin.post(path(account, "register"), {"pin": "12"}), 400, "VALIDATION_ERROR")
    error_of(admin.post(path(account, "request-code"), {"code_method": "FAX"}), 400, "VALIDATION_ERROR")
    error_of(admin.post(path(account, "subscription"), {"verify_token": "t"}), 400, "VALIDATION_ERROR")
    error_of(admin.post(path(account, "qr-codes"), {"prefilled_message": "x" * 141}), 400, "VALIDATION_ERROR")
    assert sandbox.graph_requests() == before


def test_only_admins_manage_the_number(sandbox, account):
    agent = Api(member(account, "agent", "bo"))
    error_of(agent.post(path(account, "register"), {"pin": "123456"}), 403, "PERMISSION_DENIED")
    error_of(agent.get(path(account, "qr-codes")), 403, "PERMISSION_DENIED")


def test_subscription_with_an_override_url(sandbox, account, admin):
    assert admin.client.delete(f"/whatsapp/{path(account, 'subscription')}").status_code == 200
    assert admin.get(path(account, "subscription")).json()["apps"] == []
    with WebhookCollector(verify_token="override-token") as receiver:
        body = {"override_callback_uri": receiver.url, "verify_token": "override-token"}
        assert admin.post(path(account, "subscription"), body).status_code == 200
        (app,) = admin.get(path(account, "subscription")).json()["apps"]
        assert app["override_callback_uri"] == receiver.url
        refused = {**body, "verify_token": "wrong"}
        assert (
            error_of(admin.post(path(account, "subscription"), refused), 400, "WHATSAPP_API_ERROR")[
                "details"
            ]["code"]
            == 2200
        )


def test_a_new_integration_subscribes_the_app_when_asked(
    sandbox, account, settings, django_capture_on_commit_callbacks
):
    account.delete()
    sandbox.reset()
    sandbox._call(lambda: sandbox._core.state.account.update(subscribed=False))
    settings.WACLOUD = {**settings.WACLOUD, "SUBSCRIBE_ON_SETUP": True}
    from wacloud_django.services.tenancy import default_organization

    data = {
        "name": "Shop",
        "phone_number_id": PHONE_NUMBER_ID,
        "waba_id": WABA_ID,
        "access_token": "EAAG-test-token",
    }
    with django_capture_on_commit_callbacks(execute=True):
        created, _token = integrations.create_integration(default_organization(), data)
    assert sandbox.number()["subscribed"] is True
    assert AuditEntry.objects.filter(action="number.subscribe", object_id=str(created.pk)).exists()


def test_setup_survives_meta_refusing_the_subscription(
    sandbox, account, settings, django_capture_on_commit_callbacks
):
    account.delete()
    sandbox.set_faults(error_rate=1.0)
    settings.WACLOUD = {**settings.WACLOUD, "SUBSCRIBE_ON_SETUP": True, "MAX_RETRIES": 0}
    from wacloud_django.services.tenancy import default_organization

    data = {
        "name": "Shop",
        "phone_number_id": PHONE_NUMBER_ID,
        "waba_id": WABA_ID,
        "access_token": "EAAG-test-token",
    }
    with django_capture_on_commit_callbacks(execute=True):
        created, _token = integrations.create_integration(default_organization(), data)
    assert BusinessAccount.objects.filter(pk=created.pk).exists()
    assert not AuditEntry.objects.filter(action="number.subscribe").exists()


def test_phone_numbers_and_qr_codes(sandbox, account, admin):
    (number,) = admin.get(path(account, "phone-numbers")).json()["phone_numbers"]
    assert number["id"] == PHONE_NUMBER_ID and number["status"] == "LINKED"
    created = admin.post(
        path(account, "qr-codes"), {"prefilled_message": "Order status?", "image_format": "SVG"}
    )
    assert created.status_code == 201, created.content
    code = created.json()["qr_code"]["code"]
    assert created.json()["qr_code"]["qr_image_url"].endswith(".svg")
    changed = admin.patch(f"{path(account, 'qr-codes')}/{code}", {"prefilled_message": "Where is my order?"})
    assert changed.json()["qr_code"]["prefilled_message"] == "Where is my order?"
    assert [q["code"] for q in admin.get(path(account, "qr-codes")).json()["qr_codes"]] == [code]
    assert admin.delete(f"{path(account, 'qr-codes')}/{code}").status_code == 200
    assert admin.get(path(account, "qr-codes")).json()["qr_codes"] == []
    assert error_of(admin.get(f"{path(account, 'qr-codes')}/{code}"), 400, "WHATSAPP_API_ERROR")


# -- the block list ---------------------------------------------------------------------------------------
@pytest.fixture
def contact(sandbox, account, post_webhook):
    customer_writes(sandbox, post_webhook)
    return Contact.objects.get(account=account, wa_id=CUSTOMER)


def test_an_agent_blocks_and_unblocks_a_contact(sandbox, account, contact):
    agent = Api(member(account, "agent", "bo"))
    blocked = agent.post(f"contacts/{contact.pk}/block")
    assert blocked.status_code == 200, blocked.content
    assert blocked.json()["contact"]["blocked_at"] is not None
    assert sandbox.number()["blocked"] == [CUSTOMER]
    listed = agent.get(path(account, "blocked")).json()["results"]
    assert [row["id"] for row in listed] == [contact.pk]
    assert agent.delete(f"contacts/{contact.pk}/block").json()["contact"]["blocked_at"] is None
    assert sandbox.number()["blocked"] == []
    assert list(
        AuditEntry.objects.filter(object_id=str(contact.pk), action__startswith="contact.")
        .values_list("action", flat=True)
        .order_by("pk")
    ) == ["contact.block", "contact.unblock"]


def test_meta_blocks_only_users_who_wrote_in_24_hours(sandbox, account):
    quiet = Contact.objects.create(account=account, wa_id="5511900000000", name="Quiet")
    agent = Api(member(account, "agent", "bo"))
    refused = error_of(agent.post(f"contacts/{quiet.pk}/block"), 400, "BLOCK_FAILED")
    assert refused["details"]["code"] == 131047
    quiet.refresh_from_db()
    assert quiet.blocked_at is None


def test_viewers_cannot_block_and_other_tenants_contacts_are_not_found(sandbox, account, contact):
    viewer = Api(member(account, "viewer", "cy"))
    error_of(viewer.post(f"contacts/{contact.pk}/block"), 403, "PERMISSION_DENIED")
    from wacloud_django.models import Organization

    other = Organization.objects.create(slug="other", name="Other")
    stranger = Api(member(BusinessAccount(organization=other), "admin", "dee"))
    error_of(stranger.post(f"contacts/{contact.pk}/block"), 404, "NOT_FOUND")


def test_the_admin_action_blocks_through_the_service(sandbox, account, contact, client):
    staff = member(account, "agent", "ed")
    staff.is_staff = True
    staff.save()
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_contact", "change_contact"]))
    client.force_login(staff)
    url = "/admin/wacloud/contact/"
    response = client.post(url, {"action": "block_contacts", "_selected_action": [contact.pk]}, follow=True)
    assert response.status_code == 200
    contact.refresh_from_db()
    assert contact.blocked_at is not None and sandbox.number()["blocked"] == [CUSTOMER]


def test_the_schema_describes_the_number_operations(account, admin):
    import json as json_module

    response = admin.client.get("/whatsapp/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    schema = json_module.loads(response.content)
    paths = schema["paths"]
    for route, methods in {
        "integrations/{id}/register": ["post"],
        "integrations/{id}/subscription": ["get", "post", "delete"],
        "integrations/{id}/qr-codes/{code}": ["get", "patch", "delete"],
        "contacts/{id}/block": ["post", "delete"],
        "analytics/meta": ["get"],
        "analytics/meta/import": ["post"],
    }.items():
        assert set(methods) <= set(paths[f"/whatsapp/{route}"]), route
    body = paths["/whatsapp/integrations/{id}/register"]["post"]["requestBody"]["content"]["application/json"]
    assert "pin" in schema["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[1]]["properties"]
