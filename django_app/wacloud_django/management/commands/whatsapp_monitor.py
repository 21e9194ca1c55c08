"""The monitor report: delivery, read and failure rates, webhook backlog, rate-limit use, templates."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from ...services.analytics import monitor_report
from ..base import WacloudCommand


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def render(report: dict[str, Any]) -> str:
    """The report as text for people."""
    out, hooks = report["outbound"], report["webhooks"]
    lines = [
        f"WhatsApp monitor, last {report['hours']} h (at {report['generated_at']})",
        f"  outbound   {out['total']} messages, {out['attempted']} attempted (left the outbox); "
        f"of those: delivered {_percent(out['delivery_rate'])}, read {_percent(out['read_rate'])}, "
        f"failed {_percent(out['failure_rate'])}",
        "             by status: " + (", ".join(f"{k} {v}" for k, v in out["by_status"].items()) or "none"),
        f"             queued {out['queued']}, retriable failures {out['retriable_failures']}, "
        f"delivery unknown {out['delivery_unknown']} (needs a human)",
    ]
    for error in out["top_errors"]:
        lines.append(f"             error {error['code']} {error['title']}: {error['count']}")
    lines += [
        f"  inbound    {report['inbound']['total']} messages",
        f"  webhooks   {hooks['received']} received, {hooks['failed']} failed "
        f"({hooks['failed_total']} failed in all), backlog {hooks['backlog']}"
        + ("" if hooks["oldest_backlog_seconds"] is None else f", oldest {hooks['oldest_backlog_seconds']}s"),
    ]
    for limit in report["rate_limits"]:
        per_hour = ""
        if limit["per_hour"]:
            per_hour = f"/{limit['per_hour']} per hour ({_percent(limit['hour_usage'])})"
        lines.append(
            f"  rate limit {limit['account']}: {limit['sent_this_hour']} sent this hour{per_hour}; "
            f"{limit['per_second']}/s, {limit['backend']} backend"
        )
    templates = ", ".join(f"{k or 'unknown'} {v}" for k, v in report["templates"].items()) or "none synced"
    lines.append(f"  templates  {templates}")
    return "\n".join(lines)


class Command(WacloudCommand):
    help = (
        "Report delivery/read/failure rates, webhook backlog, rate-limit use and template statuses. "
        "Every rate is a share of the attempted outbound messages (any status but queued)."
    )
    needs_secrets = False

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--hours", type=int, default=24, help="the period to report on (default 24)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["hours"] <= 0:
            raise CommandError(f"--hours must be a positive number of hours, got {options['hours']}.")
        chosen = options["account"] or options["business_account_id"]
        account = self.selected_account(options) if chosen else None
        report = monitor_report(options["hours"], account)
        self.emit(options, report, render(report))
