"""The analytics page's account and time-zone selectors (services.reports.analytics and
inbox.daily_volume take both): one account's figures or all, days counted in the chosen
zone, and another organization's account never chosen."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from api_support import member, tenant_a, tenant_b

from wacloud_django.models import BusinessAccount, Contact, Conversation, Message

pytestmark = pytest.mark.django_db
ANALYTICS = "/inbox/analytics/"
#: Late on March 10 in UTC, already March 11 in Tokyo.
LATE = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)


@pytest.fixture
def tenants(sandbox):
    with time_machine.travel(LATE, tick=False):
        a, b = tenant_a(), tenant_b()
    return a, b


@pytest.fixture
def second_account(tenants):
    """A's second number, where three customers wrote at LATE."""
    a, _ = tenants
    account = BusinessAccount.objects.create(
        organization=a.organization, name="Sales line", phone_number_id="5550002", waba_id="5550003",
        access_token="EAAG-x",
    )  # fmt: skip
    for n in range(3):
        contact = Contact.objects.create(account=account, wa_id=f"97250000010{n}", name=f"buyer {n}")
        conversation = Conversation.objects.create(account=account, contact=contact, last_message_at=LATE)
        Message.objects.create(account=account, conversation=conversation, contact=contact, type="text",
                               direction="inbound", status="received", text="hi", timestamp=LATE)  # fmt: skip
    return account


def figure(html: str, label: str) -> int:
    """The number shown above ``label`` in the figures row."""
    tail = html.split(f"</span> {label}</div>")[0]
    return int(tail.rsplit("<span>", 1)[1])


def show(client, **query) -> str:
    with time_machine.travel(datetime(2026, 3, 12, 12, tzinfo=UTC)):
        response = client.get(ANALYTICS, {"start": "2026-03-10", "end": "2026-03-11", **query})
    assert response.status_code == 200
    return response.content.decode()


def test_one_account_or_all(client, tenants, second_account):
    a, _ = tenants
    client.force_login(member(a.organization, "viewer"))
    everything = show(client)
    assert figure(everything, "received") == 4 and figure(everything, "sent") == 1
    assert 'id="account"' in everything and "Sales line" in everything and "org-b account" not in everything
    sales = show(client, account=second_account.pk)
    assert figure(sales, "received") == 3 and figure(sales, "sent") == 0
    assert f'<option value="{second_account.pk}" selected>' in sales
    support = show(client, account=a.account.pk)
    assert figure(support, "received") == 1 and figure(support, "sent") == 1
    assert "Inbound: total 1" in support  # the chart of days follows the account too


def test_days_are_counted_in_the_chosen_time_zone(client, tenants):
    a, _ = tenants
    client.force_login(member(a.organization, "viewer"))
    utc = show(client)
    assert "Inbound, Mar 10: 1" in utc and "Inbound, Mar 11: 0" in utc
    tokyo = show(client, tz="Asia/Tokyo")
    assert "Inbound, Mar 10: 0" in tokyo and "Inbound, Mar 11: 1" in tokyo
    assert "<option selected>Asia/Tokyo</option>" in tokyo and "days in Asia/Tokyo" in tokyo
    # Before March 10 in Tokyo's days, nothing: the same message, counted once, on its local day.
    assert figure(show(client, tz="Asia/Tokyo", end="2026-03-10"), "received") == 0


def test_unknown_choices_are_named_and_fall_back(client, tenants):
    a, b = tenants
    client.force_login(member(a.organization, "viewer"))
    html = show(client, tz="Mars/Olympus")
    assert "Unknown time zone &#x27;Mars/Olympus&#x27;" in html and "days in UTC" in html
    # B's account is not A's to choose: it looks like no account at all, and B's rows stay out.
    other = show(client, account=b.account.pk)
    assert "No such account here: showing all accounts." in other
    assert figure(other, "received") == 1 and "org-b" not in other.split('id="main"')[1]
    assert "No such account here" in show(client, account="x²")


def test_login_and_membership_are_needed(client, tenants, django_user_model):
    assert client.get(ANALYTICS)["Location"].startswith("/inbox/login/")
    client.force_login(django_user_model.objects.create_user("stranger"))
    assert client.get(ANALYTICS).status_code == 403
