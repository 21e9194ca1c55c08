"""The Templates page's create form: marketers submit a template to Meta (the sandbox) through
services.templates.create_template; Meta's refusals come back on the field they are about;
other roles and other organizations' accounts are refused."""

from __future__ import annotations

import pytest
from api_support import member, tenant_a, tenant_b

from wacloud_django.models import AuditEntry, Template

pytestmark = pytest.mark.django_db
NEW = "/inbox/templates/new/"


@pytest.fixture
def tenants(sandbox):
    return tenant_a(), tenant_b()


def draft(account, **fields) -> dict:
    """A complete form: header, body with two variables and their examples, footer, 3 buttons."""
    return {
        "account": account.pk, "name": "order_ready", "category": "UTILITY", "language": "en_US",
        "header": "Order update", "body": "Hi {{1}}, your order {{2}} is ready.",
        "footer": "Reply STOP to opt out",
        "example_1": "Maria", "example_2": "A-17",
        "button_type_1": "QUICK_REPLY", "button_text_1": "Thanks",
        "button_type_2": "URL", "button_text_2": "Track it", "button_value_2": "https://shop.example/track",
        "button_type_3": "PHONE_NUMBER", "button_text_3": "Call us", "button_value_3": "+15550783881",
        **fields,
    }  # fmt: skip


def test_a_marketer_creates_a_template_at_meta(client, tenants, sandbox):
    a, _ = tenants
    marketer = member(a.organization, "marketer")
    client.force_login(marketer)
    assert 'href="/inbox/templates/new/"' in client.get("/inbox/templates/").content.decode()
    assert client.get(NEW).status_code == 200
    response = client.post(NEW, draft(a.account), follow=True)
    template = Template.objects.get(name="order_ready", language="en_US")
    assert response.redirect_chain[-1][0] == f"/inbox/templates/{template.pk}/"
    assert "Template order_ready (en_US) sent to Meta: PENDING." in response.content.decode()
    assert template.account == a.account and template.status == "PENDING" and template.category == "UTILITY"
    [at_meta] = [t for t in sandbox.templates() if t["name"] == "order_ready"]
    by_type = {component["type"]: component for component in at_meta["components"]}
    assert by_type["HEADER"] == {"type": "HEADER", "format": "TEXT", "text": "Order update"}
    assert by_type["BODY"]["example"] == {"body_text": [["Maria", "A-17"]]}
    assert by_type["FOOTER"]["text"] == "Reply STOP to opt out"
    assert by_type["BUTTONS"]["buttons"] == [
        {"type": "QUICK_REPLY", "text": "Thanks"},
        {"type": "URL", "text": "Track it", "url": "https://shop.example/track"},
        {"type": "PHONE_NUMBER", "text": "Call us", "phone_number": "+15550783881"},
    ]
    entry = AuditEntry.objects.get(action="template.create")
    assert entry.actor == marketer and entry.source == "web"


def test_a_header_variable_needs_its_example(client, tenants, sandbox):
    a, _ = tenants
    client.force_login(member(a.organization, "marketer"))
    missing = client.post(NEW, draft(a.account, header="Order {{1}}")).content.decode()
    assert "Give an example value for the header&#x27;s variable." in missing
    client.post(NEW, draft(a.account, header="Order {{1}}", header_example="A-17"))
    [at_meta] = [t for t in sandbox.templates() if t["name"] == "order_ready"]
    assert at_meta["components"][0]["example"] == {"header_text": ["A-17"]}


@pytest.mark.parametrize(
    "fields, field, says",
    [
        ({"name": "Order Ready!"}, "name", "lowercase letters, digits and underscores"),
        ({"body": "{{1}}, your order {{2}} is ready"}, "body", "start or end"),
        ({"language": "xx_XX"}, "language", "not supported"),
    ],
)
def test_metas_refusals_are_shown_on_their_field(client, tenants, sandbox, fields, field, says):
    a, _ = tenants
    client.force_login(member(a.organization, "marketer"))
    response = client.post(NEW, draft(a.account, **fields))
    assert response.status_code == 200
    form = response.context["form"]
    assert says in " ".join(form.errors[field]), form.errors
    assert "Meta refused the template" in response.content.decode()
    assert not Template.objects.filter(name__iexact="order_ready").exists()
    assert not [t for t in sandbox.templates() if t["name"] in ("order_ready", "Order Ready!")]


def test_the_form_checks_what_meta_cannot_guess(client, tenants, sandbox):
    a, _ = tenants
    client.force_login(member(a.organization, "marketer"))
    response = client.post(
        NEW, draft(a.account, example_2="", button_value_2="shop.example", button_value_3="")
    )
    errors = response.context["form"].errors
    assert "example_2" in errors and "button_value_2" in errors and "button_value_3" in errors
    assert sandbox.templates() == [] or all(t["name"] != "order_ready" for t in sandbox.templates())


def test_typing_the_body_brings_its_example_fields_and_preview(client, tenants):
    a, _ = tenants
    client.force_login(member(a.organization, "marketer"))
    query = {"body": "Hi {{1}}, order {{2}} shipped.", "example_1": "Ana", "header": "Hello"}
    html = client.get(NEW, query, HTTP_HX_REQUEST="true").content.decode()
    assert 'name="example_1"' in html and 'name="example_2"' in html and 'name="example_3"' not in html
    assert 'value="Ana"' in html  # what was typed stays
    assert "Hi Ana, order {{2}} shipped." in html and "<strong>Hello</strong>" in html


@pytest.mark.parametrize("role", ["viewer", "agent"])
def test_roles_below_marketer_are_refused(client, tenants, sandbox, role):
    a, _ = tenants
    client.force_login(member(a.organization, role))
    assert client.get(NEW).status_code == 403
    assert client.post(NEW, draft(a.account)).status_code == 403
    assert 'href="/inbox/templates/new/"' not in client.get("/inbox/templates/").content.decode()
    assert not Template.objects.filter(name="order_ready").exists()


def test_another_organizations_account_cannot_be_chosen(client, tenants, sandbox):
    a, b = tenants
    client.force_login(member(a.organization, "admin"))
    page = client.get(NEW).content.decode()
    assert "org-a account" in page and "org-b account" not in page
    response = client.post(NEW, draft(b.account))
    assert response.status_code == 200 and "account" in response.context["form"].errors
    assert not Template.objects.filter(name="order_ready").exists()


def test_login_is_needed(client, tenants):
    response = client.get(NEW)
    assert response.status_code == 302 and response["Location"].startswith("/inbox/login/")
