"""Marketing campaigns from the command line: create one from a CSV (or contacts), start it,
watch its progress, pause, resume or cancel it. Each action is one call into the service."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils.dateparse import parse_datetime

from ...automation.services import campaign_sending, campaigns
from ...automation.services.campaigns import CampaignError, CampaignSpec
from ...conf import use_celery
from ...models import Campaign
from ...services import audit
from ..base import WacloudCommand

ACTIONS = ("create", "start", "status", "pause", "resume", "cancel", "list")


class Command(WacloudCommand):
    help = "Create, start, watch, pause, resume or cancel a marketing campaign."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("action", choices=ACTIONS)
        parser.add_argument(
            "campaign", nargs="?", type=int, help="the campaign id (all actions but create, list)"
        )
        parser.add_argument("--name", help="create: the campaign's name")
        parser.add_argument("--template", help="create: the template to send")
        parser.add_argument("--language", default="en_US", help="create: the template's language")
        audience = parser.add_mutually_exclusive_group()
        audience.add_argument(
            "--csv", metavar="FILE", help="create: numbers (and parameter columns) from a CSV"
        )
        audience.add_argument("--tag", help="create: the account's contacts with this tag (default: all)")
        parser.add_argument(
            "--param",
            action="append",
            default=[],
            metavar="SOURCE",
            help="create: a body parameter: name, wa_id, profile.KEY, a CSV column, text:VALUE",
        )
        parser.add_argument("--variant-b", metavar="TEMPLATE", help="create: variant B's template (A/B test)")
        parser.add_argument("--variant-b-percent", type=int, default=50, help="create: share of variant B")
        parser.add_argument("--winner-metric", choices=Campaign.WinnerMetric.values, default="")
        parser.add_argument("--max-per-second", type=int, help="create: throughput cap (messages/s)")
        parser.add_argument(
            "--schedule",
            choices=("draft", "now", "at", "daily", "weekly"),
            default="draft",
            help="create: draft (start it later), now, at --at, daily or weekly",
        )
        parser.add_argument("--at", help="create: the start time, ISO 8601 with a time zone")
        parser.add_argument("--reason", default="paused from the command line", help="pause: why")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        with audit.acting_as(None, source="command"):
            if action == "create":
                campaign = self.create(options)
            elif action == "list":
                return self.list(options)
            else:
                campaign = self.campaign(options)
                try:
                    if action == "start":
                        campaign = self.start(campaign)
                    elif action in ("pause", "resume", "cancel"):
                        runner = {
                            "pause": lambda c: campaigns.pause_campaign(c, options["reason"]),
                            "resume": campaigns.resume_campaign,
                            "cancel": campaigns.cancel_campaign,
                        }
                        runner[action](campaign)
                except CampaignError as error:
                    raise CommandError(str(error)) from None
        campaign.refresh_from_db()
        self.report(options, campaign)

    def campaign(self, options: dict[str, Any]) -> Campaign:
        if options["campaign"] is None:
            raise CommandError(f"{options['action']}: give the campaign id")
        campaign = Campaign.objects.select_related("account").filter(pk=options["campaign"]).first()
        if campaign is None:
            raise CommandError(f"No campaign {options['campaign']}.")
        return campaign

    def create(self, options: dict[str, Any]) -> Campaign:
        if not options["name"] or not options["template"]:
            raise CommandError("create: --name and --template are required")
        account = self.selected_account(options)
        at = parse_datetime(options["at"]) if options["at"] else None
        if options["at"] and at is None:
            raise CommandError(f"--at: {options['at']!r} is not an ISO 8601 time")
        spec = CampaignSpec(
            name=options["name"],
            template_name=options["template"],
            template_language=options["language"],
            audience="csv" if options["csv"] else "tag" if options["tag"] else "all",
            tag=options["tag"] or "",
            parameters=options["param"],
            variant_b_template_name=options["variant_b"] or "",
            variant_b_percent=options["variant_b_percent"] if options["variant_b"] else 0,
            winner_metric=options["winner_metric"],
            max_per_second=options["max_per_second"],
            schedule=options["schedule"],
            scheduled_at=at,
        )
        try:
            if options["csv"]:
                with open(options["csv"], "rb") as handle:
                    spec.numbers = handle
                    return campaigns.create_campaign(account.organization, account, spec)
            return campaigns.create_campaign(account.organization, account, spec)
        except OSError as error:
            raise CommandError(f"--csv: {error}") from None
        except CampaignError as error:
            raise CommandError(str(error)) from None

    def start(self, campaign: Campaign) -> Campaign:
        if campaign.status == Campaign.Status.RUNNING:
            campaign_sending.run_campaign(campaign.pk)  # a running one left by a dead worker goes on
            return campaign
        campaigns.start_campaign(campaign, enqueue=False)
        if use_celery():
            campaigns.schedule_run(campaign.pk)
        else:
            campaign_sending.run_campaign(campaign.pk)
        return campaign

    def list(self, options: dict[str, Any]) -> None:
        rows = [
            {"id": c.pk, "name": c.name, "status": c.status, "template": c.template_name}
            for c in Campaign.objects.order_by("-created_at", "-pk")[:100]
        ]
        text = "\n".join(
            f"{row['id']:>6}  {row['status']:<10} {row['name']} ({row['template']})" for row in rows
        )
        self.emit(options, rows, text or "No campaigns.")

    def report(self, options: dict[str, Any], campaign: Campaign) -> None:
        state = campaigns.progress(campaign)
        data = {
            "id": campaign.pk,
            "name": campaign.name,
            "status": campaign.status,
            "pause_reason": campaign.pause_reason or None,
            "progress": state,
            "ab_test": campaigns.ab_results(campaign),
            "audience_report": campaign.audience_report or None,
        }
        bar = self.progress(options, f"Campaign {campaign.pk} ({campaign.status})")
        if bar is not None:
            bar(state["done"], state["total"])
        counts = ", ".join(f"{name} {count}" for name, count in state["counts"].items() if count)
        text = f"{campaign.name}: {state['total']} recipients; {counts or 'none yet'}"
        if campaign.pause_reason:
            text += f"\nPaused: {campaign.pause_reason}"
        report = campaign.audience_report or {}
        if report.get("invalid"):
            lines = ", ".join(str(row["line"]) for row in report["invalid_rows"][:20])
            text += f"\n{report['invalid']} invalid row(s) (lines {lines}); "
            text += f"{report['duplicates']} duplicate(s) merged"
        self.emit(options, data, text)
