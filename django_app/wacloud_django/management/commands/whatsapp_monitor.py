"""The monitor report: delivery, read and failure rates, webhook backlog, rate-limit use, templates."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from ...services import circuit, tokens
from ...services.analytics import monitor_report
from ..base import WacloudCommand


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value}s"


def _response_text(response: dict[str, Any]) -> str:
    return (
        f"  replies    {response['answered']} of {response['turns']} customer turns answered; wait "
        f"avg {_seconds(response['average_seconds'])}, p50 {_seconds(response['p50_seconds'])}, "
        f"p90 {_seconds(response['p90_seconds'])}"
    )


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
        _response_text(report["response_time"]),
        f"  webhooks   {hooks['received']} received, {hooks['failed']} failed "
        f"({hooks['failed_total']} failed in all), backlog {hooks['backlog']}"
        + ("" if hooks["oldest_backlog_seconds"] is None else f", oldest {hooks['oldest_backlog_seconds']}s"),
        f"             latency: Meta to stored {_seconds(hooks['meta_to_stored_seconds'])}, "
        f"stored to processed {_seconds(hooks['stored_to_processed_seconds'])} (averages)",
    ]
    for limit in report["rate_limits"]:
        per_hour = ""
        if limit["per_hour"]:
            per_hour = f"/{limit['per_hour']} per hour ({_percent(limit['hour_usage'])})"
        lines.append(
            f"  rate limit {limit['account']}: {limit['sent_this_hour']} sent this hour{per_hour}; "
            f"{limit['per_second']}/s, {limit['backend']} backend"
        )
    for breaker in report.get("circuits", []):
        lines.append(f"  circuit    {breaker['account']}: {_circuit_text(breaker)}")
    templates = ", ".join(f"{k or 'unknown'} {v}" for k, v in report["templates"].items()) or "none synced"
    lines.append(f"  templates  {templates}")
    for account, token in report.get("tokens", {}).items():
        lines.append(f"  token      {account}: {tokens.render(token)}")
    return "\n".join(lines)


def _circuit_text(circuit: dict[str, Any]) -> str:
    state = circuit["state"]
    if state == "closed":
        return "closed (sending)"
    if state in ("open", "half_open"):
        probe = "a probe is in flight" if state == "half_open" else f"next probe at {circuit['retry_at']}"
        return f"{state.replace('_', '-')} since {circuit['opened_at']}: sends wait, {probe}"
    if state == "unknown":
        return f"unknown ({circuit['error']})"
    return state


class Command(WacloudCommand):
    help = (
        "Report delivery/read/failure rates, webhook backlog, rate-limit use and template statuses. "
        "Every rate is a share of the attempted outbound messages (any status but queued)."
    )
    needs_secrets = False

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--hours", type=int, default=24, help="the period to report on (default 24)")
        parser.add_argument(
            "--check-tokens",
            action="store_true",
            help="ask Meta about each access token now (default: the last check's answer)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["hours"] <= 0:
            raise CommandError(f"--hours must be a positive number of hours, got {options['hours']}.")
        chosen = options["account"] or options["business_account_id"]
        account = self.selected_account(options) if chosen else None
        report = monitor_report(options["hours"], account)
        report["tokens"] = tokens.token_report(account, refresh=options["check_tokens"])
        report["circuits"] = circuit.circuit_report(account)
        self.emit(options, report, render(report))
