"""Meta's own analytics imported into MetaDailyFigures (services/meta_analytics.py) from the
sandbox, which computes them from what was sent: the command, the API (read and import),
re-imports replacing days, and ranges Meta does not answer."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from api_test_helpers import CUSTOMER, Api, customer_writes, error_of, member
from django.core.management import call_command
from django.utils import timezone

from wacloud.sandbox.meta_analytics import PRICES
from wacloud.sandbox.state import HELLO_WORLD_ID
from wacloud_django.models import MetaDailyFigures, Template
from wacloud_django.services import meta_analytics
from wacloud_django.services.clients import client_for

pytestmark = pytest.mark.django_db


def wait_read(sandbox, count):
    deadline = time.monotonic() + 5
    while sum(m["status"] == "read" for m in sandbox.sent_messages()) < count:
        assert time.monotonic() < deadline, "the sends did not all reach read"
        time.sleep(0.01)


@pytest.fixture
def traffic(sandbox, account, post_webhook):
    """The customer writes; the business answers with a text and hello_world (free in the
    window), then a marketing template (billed)."""
    Template.objects.create(
        account=account, waba_id=account.waba_id, template_id=HELLO_WORLD_ID, name="hello_world",
        language="en_US", status="APPROVED", category="UTILITY",
    )  # fmt: skip
    customer_writes(sandbox, post_webhook)
    client = client_for(account)
    client.create_template(
        "weekly_offer", "en_US", "MARKETING", [{"type": "BODY", "text": "This week only: 10% off"}]
    )
    deadline = time.monotonic() + 5
    while not any(t["name"] == "weekly_offer" and t["status"] == "APPROVED" for t in sandbox.templates()):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    client.send_text(CUSTOMER, "Thanks for writing")
    client.send_template(CUSTOMER, "hello_world", "en_US")
    client.send_template(CUSTOMER, "weekly_offer", "en_US")
    wait_read(sandbox, 3)


def test_the_command_imports_todays_figures(account, traffic):
    out = StringIO()
    call_command("whatsapp_import_meta_analytics", "--format", "json", stdout=out)
    done = json.loads(out.getvalue())
    assert (done["days"], done["sent"], done["delivered"], done["volume"]) == (7, 3, 3, 3)
    today = MetaDailyFigures.objects.get(account=account, date=timezone.now().date())
    assert (today.sent, today.delivered, today.volume, today.currency) == (3, 3, 3, "USD")
    assert today.cost == Decimal(str(PRICES["marketing"]))
    assert today.by_pricing_category["MARKETING"] == {"volume": 1, "cost": "0.025"}
    assert today.by_pricing_type == {
        "FREE_CUSTOMER_SERVICE": {"volume": 2, "cost": "0"},
        "REGULAR": {"volume": 1, "cost": "0.025"},
    }
    assert today.templates[HELLO_WORLD_ID] == {
        "name": "hello_world", "sent": 1, "delivered": 1, "read": 1, "clicked": 0, "cost": 0.0,
    }  # fmt: skip
    assert MetaDailyFigures.objects.filter(account=account).count() == 7  # quiet days are rows too


def test_importing_again_replaces_the_days(sandbox, account, traffic):
    today = timezone.now().date()
    meta_analytics.import_range(account, today, today)
    client_for(account).send_text(CUSTOMER, "One more")
    wait_read(sandbox, 4)
    meta_analytics.import_range(account, today, today)
    (row,) = MetaDailyFigures.objects.filter(account=account)
    assert row.sent == 4


def test_ranges_meta_does_not_answer_are_refused_unasked(sandbox, account):
    today = timezone.now().date()
    before = sandbox.graph_requests()
    with pytest.raises(meta_analytics.RangeError):
        meta_analytics.import_range(account, today, today - timedelta(days=1))
    with pytest.raises(meta_analytics.RangeError):
        meta_analytics.import_range(account, today - timedelta(days=90), today)
    assert sandbox.graph_requests() == before


def test_the_api_reads_and_imports_by_role(sandbox, account, traffic):
    admin = Api(member(account, "admin"))
    viewer = Api(member(account, "viewer", "vic"))
    error_of(viewer.post("analytics/meta/import", {}), 403, "PERMISSION_DENIED")
    imported = admin.post("analytics/meta/import", {"since": str(timezone.now().date())})
    assert imported.status_code == 200, imported.content
    assert imported.json()["summary"]["sent"] == 3
    read = viewer.get("analytics/meta", {"since": str(timezone.now().date())}).json()
    (day,) = read["days"]
    assert day["account"] == account.phone_number_id and day["volume"] == 3
    assert read["summary"] == {
        "days": 1,
        "sent": 3,
        "delivered": 3,
        "volume": 3,
        "cost": "0.025000",
        "currency": "USD",
    }
    too_long = {"since": "2020-01-01", "until": "2020-12-31"}
    error_of(admin.post("analytics/meta/import", too_long), 400, "VALIDATION_ERROR")


def test_the_daily_task_imports_every_account_and_one_failure_stops_none(sandbox, account, traffic):
    from wacloud_django.models import BusinessAccount
    from wacloud_django.tasks import import_meta_analytics

    broken = BusinessAccount.objects.create(
        organization=account.organization, name="Old line", phone_number_id="5550009", waba_id="999000111",
        access_token="EAAG-revoked", app_secret="s", verify_token="v",
    )  # fmt: skip
    done = import_meta_analytics(days=2)
    assert (done["accounts"], done["days"]) == (1, 2)
    assert list(done["failed"]) == ["5550009"] and done["failed"]["5550009"].startswith("AuthenticationError")
    today = MetaDailyFigures.objects.get(account=account, date=timezone.now().date())
    assert (today.sent, today.delivered) == (3, 3)
    assert not MetaDailyFigures.objects.filter(account=broken).exists()
