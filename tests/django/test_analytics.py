"""Analytics (docs/analytics.md): every figure against a dataset computed by hand, time zone
boundaries, empty ranges, the daily rollup against the raw tables, its rebuild, seed 004's
``stats`` keys, and tenant isolation."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from api_test_helpers import Api, error_of, member
from django.core.management import CommandError, call_command
from django.db.models import F
from schedule_support import Clock

from wacloud_django.models import (
    BusinessAccount,
    ConsentRecord,
    Contact,
    Conversation,
    DailyRollup,
    Escalation,
    Message,
    Organization,
    Ticket,
    WebhookEvent,
)
from wacloud_django.services import reports
from wacloud_django.services.analytics_figures import HISTOGRAM_ERROR
from wacloud_django.services.analytics_rollup import rebuild, rollup_recent
from wacloud_django.tasks import rollup_analytics

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
MARCH_2, MARCH_3, MARCH_4 = date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with Clock(NOW) as clock:  # django.utils.timezone.now stopped at NOW
        yield clock


def _contact(account, wa_id, created):
    contact = Contact.objects.create(account=account, wa_id=wa_id)
    Contact.objects.filter(pk=contact.pk).update(created_at=created)
    return contact


def _conversation(account, contact, created):
    conversation = Conversation.objects.create(account=account, contact=contact)
    Conversation.objects.filter(pk=conversation.pk).update(created_at=created)
    return conversation


def _message(conversation, direction, when, status=None, kind="text", **fields):
    return Message.objects.create(
        account=conversation.account, conversation=conversation, contact=conversation.contact,
        direction=direction, type=kind, timestamp=when,
        status=status or ("received" if direction == "inbound" else "delivered"), **fields,
    )  # fmt: skip


def build_dataset(account, prefix="55"):
    """Three conversations over 2-4 March 2026 (UTC); the figures below are worked out by hand.

    ana (stored 15 Feb): 09:00 in, 09:10 out (600 s); 12:00 in (image), 12:05 in, 12:30 template
        read (1800 s).
    bo (2 Mar 10:00): 10:00 in, 10:02 out failed 131047 (120 s); 3 Mar 10:00 template delivered;
        3 Mar 23:30 in, unanswered (a new 24 h window: 37.5 h since bo last wrote).
    cy (3 Mar 23:40): 23:40 in, 4 Mar 00:20 out sent (2400 s, answered after UTC midnight); 08:00 out queued.
    Every inbound message is stored 2 s after Meta's timestamp."""
    ana = _contact(account, f"{prefix}0001", at(15, 8, month=2))
    bo = _contact(account, f"{prefix}0002", at(2, 10))
    cy = _contact(account, f"{prefix}0003", at(3, 23, 40))
    with_ana, with_bo, with_cy = (
        _conversation(account, ana, at(2, 9)), _conversation(account, bo, at(2, 10)),
        _conversation(account, cy, at(3, 23, 40)),
    )  # fmt: skip
    order_update = {"name": "order_update", "language": "en"}
    _message(with_ana, "inbound", at(2, 9))
    _message(with_ana, "outbound", at(2, 9, 10))
    _message(with_ana, "inbound", at(2, 12), kind="image")
    _message(with_ana, "inbound", at(2, 12, 5))
    _message(with_ana, "outbound", at(2, 12, 30), "read", kind="template", content=order_update)
    bo_first = _message(with_bo, "inbound", at(2, 10))
    _message(with_bo, "outbound", at(2, 10, 2), "failed", error_code=131047)
    _message(with_bo, "outbound", at(3, 10), "delivered", kind="template", content=order_update)
    _message(with_bo, "inbound", at(3, 23, 30))
    _message(with_cy, "inbound", at(3, 23, 40))
    _message(with_cy, "outbound", at(4, 0, 20), "sent")
    _message(with_cy, "outbound", at(4, 8), "queued")
    Message.objects.filter(account=account, direction="inbound").update(
        created_at=F("timestamp") + timedelta(seconds=2)
    )

    organization = account.organization
    Escalation.objects.create(organization=organization, conversation=with_bo, created_at=at(3, 12))
    ConsentRecord.objects.create(contact=bo, purpose="whatsapp_messaging", status="granted", source="keyword",
                                 occurred_at=at(2, 10))  # fmt: skip
    ConsentRecord.objects.create(contact=cy, purpose="marketing", status="revoked", source="api",
                                 occurred_at=at(4, 1))  # fmt: skip
    number = Ticket.objects.filter(organization=organization).count()
    Ticket.objects.create(organization=organization, account=account, contact=bo, number=number + 1,
                          message=bo_first, status="resolved", created_at=at(2, 11),
                          closed_at=at(2, 13))  # fmt: skip
    Ticket.objects.create(organization=organization, account=account, contact=ana, number=number + 2,
                          created_at=at(3, 9))  # fmt: skip
    WebhookEvent.objects.create(account=account, body=b"{}", body_sha256=f"{prefix}a".ljust(64, "0"),
                                status="processed", received_at=at(2, 9),
                                processed_at=at(2, 9) + timedelta(seconds=2))  # fmt: skip
    WebhookEvent.objects.create(account=account, body=b"{}", body_sha256=f"{prefix}b".ljust(64, "0"),
                                status="failed", received_at=at(3, 9))  # fmt: skip
    WebhookEvent.objects.create(account=account, body=b"{}", body_sha256=f"{prefix}c".ljust(64, "0"),
                                status="pending", received_at=at(10, 11))  # fmt: skip
    return {"ana": ana, "bo": bo, "cy": cy, "with_bo": with_bo}


@pytest.fixture
def dataset(account):
    return build_dataset(account)


def test_every_figure_of_the_hand_computed_dataset(account, dataset):
    report = reports.analytics(account.organization, MARCH_2, MARCH_4)
    assert report["period"]["rollup_days"] == 0
    assert report["messages"] == {
        "total": 12, "inbound": 6, "outbound": 6,
        "by_type": {"image": 1, "template": 2, "text": 9},
        "outbound_by_status": {"delivered": 2, "failed": 1, "queued": 1, "read": 1, "sent": 1},
        "attempted": 5, "delivery_rate": 0.6, "read_rate": 0.2, "failure_rate": 0.2,
        "rates_denominator": "attempted: outbound messages that left the outbox",
        "failures_by_code": [{"code": 131047, "count": 1}],
        "unique_contacts": 3,
    }  # fmt: skip
    conversations = report["conversations"]
    assert conversations["opened"] == 3 and conversations["open_now"] == 3 and conversations["active"] == 3
    assert conversations["opened_per_day"] == [
        {"date": "2026-03-02", "count": 2},
        {"date": "2026-03-03", "count": 1},
    ]
    assert conversations["messages_per_conversation"] == 4.0
    assert conversations["windows_opened"] == 4 and conversations["escalations"] == 1
    # Waits 600, 1800, 120, 2400 s; bo's last turn is unanswered. percentile_cont: p50 at
    # position 1.5 -> 600 + 0.5 * 1200; p90 at 2.7 -> 1800 + 0.7 * 600.
    assert conversations["response_time"] == {
        "turns": 5, "answered": 4, "reply_rate": 0.8, "average_seconds": 1230.0,
        "p50_seconds": 1200.0, "p90_seconds": 2220.0,
    }  # fmt: skip
    # First turns: 600, 120, 2400 s -> p50 600, p90 at 1.8 -> 600 + 0.8 * 1800.
    assert conversations["first_response_time"] == {
        "turns": 3, "answered": 3, "reply_rate": 1.0, "average_seconds": 1040.0,
        "p50_seconds": 600.0, "p90_seconds": 2040.0,
    }  # fmt: skip
    assert conversations["percentiles"] == "exact"
    contacts = report["contacts"]
    assert (contacts["new"], contacts["returning"], contacts["total"]) == (2, 1, 3)
    assert contacts["new_per_day"] == [{"date": "2026-03-02", "count": 1}, {"date": "2026-03-03", "count": 1}]
    assert contacts["new_per_week"] == [{"date": "2026-03-02", "count": 2}]  # weeks start on Monday
    assert (contacts["opt_ins"], contacts["opt_outs"]) == (1, 1)
    assert contacts["cohorts"] == [{"cohort": "2026-03", "size": 2, "retained": [], "retention": []}]
    templates = report["templates"]
    assert templates["sends"] == [{"name": "order_update", "sent": 2, "read": 1, "read_rate": 0.5}]
    assert templates["campaigns"] == []
    assert report["webhooks"] == {
        "received": 2, "failed": 1, "error_rate": 0.5, "meta_to_stored_seconds": 2.0,
        "stored_to_processed_seconds": 2.0, "backlog": 1, "oldest_backlog_seconds": 3600.0,
    }  # fmt: skip
    assert report["helpdesk"] == {
        "enabled": False, "tickets_created": 2, "tickets_via_whatsapp": 1, "tickets_resolved": 1,
        "average_resolution_seconds": 7200.0,
    }  # fmt: skip


def test_cohorts_count_who_wrote_again_in_the_following_months(account, dataset):
    dee = _contact(account, "550004", at(10, 8, month=1))
    _message(_conversation(account, dee, at(10, 8, month=1)), "inbound", at(5, 9, month=2))
    cohorts = reports.analytics(account.organization, date(2026, 1, 1), MARCH_4)["contacts"]["cohorts"]
    assert cohorts == [
        # dee wrote in February (month 1), not in March (month 2); April is past the period.
        {"cohort": "2026-01", "size": 1, "retained": [1, 0], "retention": [1.0, 0.0]},
        # ana, stored in February, wrote in March.
        {"cohort": "2026-02", "size": 1, "retained": [1], "retention": [1.0]},
        {"cohort": "2026-03", "size": 2, "retained": [], "retention": []},
    ]


def test_days_are_local_days_of_the_requested_time_zone(account, dataset):
    organization = account.organization
    utc = {day: reports.analytics(organization, day, day)["messages"]["total"] for day in (MARCH_3, MARCH_4)}
    tokyo = {day: reports.analytics(organization, day, day, "Asia/Tokyo")["messages"]["total"]
             for day in (MARCH_3, MARCH_4)}  # fmt: skip
    # bo's 23:30 UTC and cy's 23:40 UTC messages (and 00:20, 08:00) are 4 March in Tokyo.
    assert utc == {MARCH_3: 3, MARCH_4: 2}
    assert tokyo == {MARCH_3: 1, MARCH_4: 4}
    report = reports.analytics(organization, MARCH_4, MARCH_4, "Asia/Tokyo")
    assert report["conversations"]["opened_per_day"] == [{"date": "2026-03-04", "count": 1}]
    # New York (UTC-5): 2 March 09:00 UTC is 04:00 local, same day; cy's 23:40 UTC is 18:40 on 3 March.
    assert reports.analytics(organization, MARCH_3, MARCH_3, "America/New_York")["messages"]["total"] == 4


def test_an_empty_range_has_zeros_and_no_rates(account, dataset):
    report = reports.analytics(account.organization, date(2025, 6, 1), date(2025, 6, 30))
    messages = report["messages"]
    assert (messages["total"], messages["attempted"], messages["unique_contacts"]) == (0, 0, 0)
    assert messages["delivery_rate"] is messages["read_rate"] is messages["failure_rate"] is None
    assert messages["by_type"] == {} and messages["failures_by_code"] == []
    response = report["conversations"]["response_time"]
    assert response == {"turns": 0, "answered": 0, "reply_rate": None, "average_seconds": None,
                        "p50_seconds": None, "p90_seconds": None}  # fmt: skip
    assert report["conversations"]["messages_per_conversation"] is None
    assert report["contacts"]["cohorts"] == [] and report["templates"]["sends"] == []
    assert (
        report["webhooks"]["error_rate"] is None and report["helpdesk"]["average_resolution_seconds"] is None
    )


def _without_sources(report):
    period = {k: v for k, v in report["period"].items() if k not in ("rollup_days", "raw_intervals")}
    report = {**report, "period": period}
    conversations = dict(report["conversations"])
    percentiles = {}
    for name in ("response_time", "first_response_time"):
        figures = dict(conversations[name])
        percentiles[name] = (figures.pop("p50_seconds"), figures.pop("p90_seconds"))
        conversations[name] = figures
    conversations.pop("percentiles")
    return {**report, "conversations": conversations}, percentiles


@pytest.mark.parametrize("tz", ["UTC", "Asia/Tokyo", "America/New_York"])
def test_the_rollup_gives_the_raw_tables_figures(account, dataset, tz):
    organization = account.organization
    raw = reports.analytics(organization, MARCH_2, MARCH_4, tz, use_rollup=False)
    rebuild(date(2026, 3, 1), date(2026, 3, 9))
    rolled = reports.analytics(organization, MARCH_2, MARCH_4, tz)
    assert rolled["period"]["rollup_days"] == (3 if tz == "UTC" else 2)
    assert rolled["conversations"]["percentiles"] == "histogram (within 9.1%)"
    same, rolled_percentiles = _without_sources(rolled)
    expected, raw_percentiles = _without_sources(raw)
    assert same == expected
    for name, values in raw_percentiles.items():
        for exact, approximate in zip(values, rolled_percentiles[name], strict=True):
            assert abs(approximate - exact) <= exact * HISTOGRAM_ERROR + 0.1, (name, exact, approximate)


def test_the_rollup_is_used_for_past_days_and_the_raw_tables_for_today(account, dataset):
    rebuild(date(2026, 3, 1), date(2026, 3, 9))
    today = Conversation.objects.get(contact__wa_id="550001")
    _message(today, "inbound", at(10, 9))
    report = reports.analytics(account.organization, MARCH_2, date(2026, 3, 10))
    assert report["period"]["rollup_days"] == 8 and report["period"]["raw_intervals"] == 1
    assert report["messages"]["total"] == 13 and report["messages"]["inbound"] == 7
    # The raw rows changed after the rollup was built: the rollup answers until rebuilt.
    Message.objects.filter(status="delivered").update(status="read")
    assert reports.analytics(account.organization, MARCH_2, MARCH_4)["messages"]["read_rate"] == 0.2
    rebuild(MARCH_2, MARCH_4)
    assert reports.analytics(account.organization, MARCH_2, MARCH_4)["messages"]["read_rate"] == 0.6


def test_rebuilding_a_day_replaces_its_rows(account, dataset):
    first = rebuild(MARCH_2, MARCH_4)
    rows = list(DailyRollup.objects.order_by("date").values())
    again = rebuild(MARCH_2, MARCH_4)
    assert first == again == {"days": 3, "organizations": 1, "rows": 3, "failed": 0}
    assert [{**row, "id": 0, "built_at": 0} for row in DailyRollup.objects.order_by("date").values()] == [
        {**row, "id": 0, "built_at": 0} for row in rows
    ]
    march_2 = DailyRollup.objects.get(date=MARCH_2)
    assert (march_2.messages, march_2.inbound, march_2.turns, march_2.answered) == (7, 4, 3, 3)
    assert march_2.outbound_by_status == {"delivered": 1, "failed": 1, "read": 1}
    assert DailyRollup.objects.get(date=MARCH_3).turns == 2  # bo's 23:30 and cy's turn (answered on 4 March)


def test_the_beat_task_rolls_up_recent_days_from_the_last_one(account, dataset, settings):
    rebuild(MARCH_2, MARCH_3)
    assert rollup_analytics() == {"days": 9, "organizations": 1, "rows": 9, "failed": 0}  # 1..9 March
    assert sorted(DailyRollup.objects.values_list("date", flat=True))[0] == date(2026, 3, 1)
    assert DailyRollup.objects.filter(date=date(2026, 3, 10)).count() == 0  # today stays raw
    settings.WACLOUD = {**settings.WACLOUD, "ANALYTICS": {"ROLLUP_REFRESH_DAYS": 0}}
    with pytest.raises(Exception, match=r'\["ANALYTICS"\]\["ROLLUP_REFRESH_DAYS"\]'):
        rollup_recent()


def test_the_rollup_command_rebuilds_a_range(account, dataset):
    call_command("whatsapp_rollup", "--since", "2026-03-02", "--until", "2026-03-04", stdout=io.StringIO())
    assert sorted(DailyRollup.objects.values_list("date", flat=True)) == [MARCH_2, MARCH_3, MARCH_4]
    with pytest.raises(CommandError, match="--since"):
        call_command("whatsapp_rollup", "--since", "2026-03-05", "--until", "2026-03-04")
    with pytest.raises(CommandError, match="2026-31-01"):
        call_command("whatsapp_rollup", "--since", "2026-31-01")
    with pytest.raises(CommandError, match="nope"):
        call_command("whatsapp_rollup", "--organization", "nope")


def test_another_organizations_data_never_counts(account, dataset):
    other = Organization.objects.create(slug="other", name="Other")
    theirs = BusinessAccount.objects.create(organization=other, phone_number_id="998877665544", name="B")
    build_dataset(theirs, prefix="66")
    rebuild(date(2026, 3, 1), date(2026, 3, 9))
    for use_rollup in (False, True):
        report = reports.analytics(account.organization, MARCH_2, MARCH_4, use_rollup=use_rollup)
        assert (report["messages"]["total"], report["messages"]["unique_contacts"]) == (12, 3)
        assert report["conversations"]["response_time"]["turns"] == 5
        assert report["helpdesk"]["tickets_created"] == 2 and report["webhooks"]["received"] == 2
        assert (report["contacts"]["total"], report["webhooks"]["backlog"]) == (3, 1)
    one_account = reports.analytics(other, MARCH_2, MARCH_4, account=theirs)
    assert one_account["messages"]["total"] == 12 and one_account["period"]["account"] == "998877665544"


def test_stats_has_seed_004s_keys_from_the_rollup_and_the_raw_tables(account, dataset, settings):
    expected = {"totalMessages": 12, "inboundMessages": 6, "outboundMessages": 6, "uniqueContacts": 3,
                "ticketsCreated": None, "avgResponseTime": 20.5}  # 1230 s  # fmt: skip
    assert reports.stats(account.organization, 30) == expected
    rebuild(date(2026, 2, 1), date(2026, 3, 9))
    assert reports.stats(account.organization, 30) == expected
    settings.WACLOUD = {**settings.WACLOUD, "HELPDESK": {"ENABLED": True}}
    assert reports.stats(account.organization, 30)["ticketsCreated"] == 2
    assert reports.stats(account.organization, 7)["totalMessages"] == 4  # since 3 March 12:00


def test_the_monitor_reports_reply_times_and_webhook_latency(account, dataset):
    from wacloud_django.services.analytics import monitor_report

    report = monitor_report(hours=24 * 10)
    assert report["response_time"] == {"turns": 5, "answered": 4, "average_seconds": 1230.0,
                                       "p50_seconds": 1200.0, "p90_seconds": 2220.0}  # fmt: skip
    assert report["webhooks"]["meta_to_stored_seconds"] == 2.0
    assert report["webhooks"]["stored_to_processed_seconds"] == 2.0
    out = io.StringIO()
    call_command("whatsapp_monitor", "--hours", "240", stdout=out)
    assert "4 of 5 customer turns answered; wait avg 1230.0s, p50 1200.0s, p90 2220.0s" in out.getvalue()
    assert "Meta to stored 2.0s, stored to processed 2.0s" in out.getvalue()


# -- the API -------------------------------------------------------------------------------------------


@pytest.fixture
def api(account):
    return Api(member(account, "viewer"))


def test_the_api_answers_in_the_requested_time_zone(account, dataset, api):
    params = {"start_date": "2026-03-04", "end_date": "2026-03-04"}
    utc = api.get("analytics", params).json()["analytics"]
    tokyo = api.get("analytics", {**params, "tz": "Asia/Tokyo"}).json()["analytics"]
    assert (utc["messages"]["total"], tokyo["messages"]["total"]) == (2, 4)
    assert tokyo["period"]["timezone"] == "Asia/Tokyo"
    alias = api.get("analytics", {**params, "timezone": "Asia/Tokyo"}).json()["analytics"]
    assert alias["messages"]["total"] == 4
    one = api.get("analytics", {**params, "account": account.phone_number_id}).json()["analytics"]
    assert one["period"]["account"] == account.phone_number_id and one["messages"]["total"] == 2
    assert api.get("stats", {"days": 30}).json()["stats"] == {
        "totalMessages": 12, "inboundMessages": 6, "outboundMessages": 6, "uniqueContacts": 3,
        "ticketsCreated": None, "avgResponseTime": 20.5,
    }  # fmt: skip


@pytest.mark.parametrize(
    "params, field",
    [
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"tz": "../etc/passwd"}, "tz"),
        ({"timezone": "Nowhere"}, "timezone"),
        ({"account": "000"}, "account"),
        ({"start_date": "2016-01-01", "end_date": "2026-03-01"}, "start_date"),
    ],
)
def test_the_api_refuses_a_bad_zone_account_or_range(account, api, params, field):
    assert field in error_of(api.get("analytics", params), 400, "VALIDATION_ERROR")["details"]


def test_another_organizations_account_is_refused(account, api):
    other = Organization.objects.create(slug="other", name="Other")
    BusinessAccount.objects.create(organization=other, phone_number_id="998877665544", name="B")
    answer = api.get("analytics", {"account": "998877665544"})
    assert "account" in error_of(answer, 400, "VALIDATION_ERROR")["details"]


def test_campaign_funnels_count_how_far_each_recipient_got(account, dataset):
    from wacloud_django.models import Campaign, CampaignRecipient

    campaign = Campaign.objects.create(
        organization=account.organization, account=account, name="Spring", audience="csv",
        template_name="order_update", template_language="en", status="completed", started_at=at(2, 8),
    )  # fmt: skip
    for n, status in enumerate(["read", "replied", "delivered", "failed", "sent"]):
        CampaignRecipient.objects.create(campaign=campaign, wa_id=f"5599{n}", status=status)
    Campaign.objects.create(organization=account.organization, account=account, name="Later", audience="csv",
                            template_name="x", template_language="en", started_at=at(5, 8))  # fmt: skip
    funnels = reports.analytics(account.organization, MARCH_2, MARCH_4)["templates"]["campaigns"]
    assert funnels == [{
        "id": campaign.pk, "name": "Spring", "status": "completed", "template": "order_update",
        "recipients": 5, "sent": 4, "delivered": 3, "read": 2, "replied": 1, "failed": 1,
    }]  # fmt: skip


def test_cohorts_and_distinct_counts_from_the_rollup_match_the_raw_tables(account, dataset):
    dee = _contact(account, "550004", at(10, 8, month=1))
    _message(_conversation(account, dee, at(10, 8, month=1)), "inbound", at(5, 9, month=2))
    organization = account.organization
    for tz in ("UTC", "Asia/Tokyo"):
        raw = reports.analytics(organization, date(2026, 1, 1), date(2026, 3, 10), tz, use_rollup=False)
        rebuild(date(2025, 12, 31), date(2026, 3, 9))
        rolled = reports.analytics(organization, date(2026, 1, 1), date(2026, 3, 10), tz)
        assert rolled["period"]["rollup_days"] >= 67
        assert (
            rolled["contacts"]["cohorts"]
            == raw["contacts"]["cohorts"]
            == [
                {"cohort": "2026-01", "size": 1, "retained": [1, 0], "retention": [1.0, 0.0]},
                {"cohort": "2026-02", "size": 1, "retained": [1], "retention": [1.0]},
                {"cohort": "2026-03", "size": 2, "retained": [], "retention": []},
            ]
        )
        assert rolled["messages"]["unique_contacts"] == raw["messages"]["unique_contacts"] == 4
        assert rolled["contacts"]["returning"] == raw["contacts"]["returning"] == 0
        assert rolled["conversations"]["active"] == raw["conversations"]["active"] == 4
