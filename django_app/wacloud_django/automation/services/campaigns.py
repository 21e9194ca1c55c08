"""Marketing campaigns: creating one (audience, template, parameters, schedule, A/B variants,
a throughput cap), starting it, the schedule, pause/resume/cancel, progress and A/B results
(docs/automation.md). The audience is written out by :mod:`.campaign_audience` (streamed,
never held in memory), sent by :mod:`.campaign_sending` and followed by :mod:`.campaign_tracking`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from wacloud.errors import WacloudError

from ...conf import get_setting
from ...log_privacy import get_logger
from ...models import BusinessAccount, Campaign, CampaignRecipient, Organization
from ...services import audit
from .campaign_audience import AudienceError, write_contact_audience, write_csv_audience

logger = get_logger("wacloud.campaigns")
Status, Recipient = Campaign.Status, CampaignRecipient.Status
CONTACT_FIELDS = ("name", "wa_id")
#: Recipient statuses reached once the send went out (the A/B denominators).
SENT_STATUSES = (Recipient.SENT, Recipient.DELIVERED, Recipient.READ, Recipient.REPLIED)
ACTIVE = (Status.DRAFT, Status.SCHEDULED, Status.RUNNING, Status.PAUSED)


class CampaignError(WacloudError, ValueError):
    """A campaign that cannot be created as asked; ``field`` names the culprit."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field

    @property
    def api_details(self) -> dict[str, str]:
        return {"field": self.field} if self.field else {}


class CampaignStateError(CampaignError):
    """The action does not apply to the campaign's status (resuming a completed one)."""


@dataclass
class CampaignSpec:
    """What a campaign is made of; checked by :func:`create_campaign`."""

    name: str
    template_name: str
    template_language: str = "en_US"
    audience: str = Campaign.Audience.ALL
    tag: str = ""
    # CSV text/bytes/file, or an iterable of numbers or of dicts with a phone column.
    numbers: Any = None
    parameters: list[str] = field(default_factory=list)
    variant_b_template_name: str = ""
    variant_b_template_language: str = ""
    variant_b_percent: int = 0
    winner_metric: str = ""
    max_per_second: int | None = None
    schedule: str = "now"  # "now", "at", "daily", "weekly", "draft"
    scheduled_at: datetime | None = None
    campaign_type: str = ""


def campaign_setting(key: str) -> Any:
    return get_setting("CAMPAIGNS")[key]


# -- creating -------------------------------------------------------------------------------------


def create_campaign(
    organization: Organization, account: BusinessAccount, spec: CampaignSpec, *, actor: Any = None
) -> Campaign:
    """Check ``spec``, store the campaign (and, for a CSV audience, its recipients), then
    start it now, schedule it, or leave it a draft. Raises :class:`CampaignError`."""
    if account.organization_id != organization.pk:
        raise CampaignError("the account belongs to another organization", "account")
    _check_spec(account, spec)
    now = timezone.now()
    status, scheduled_at = _schedule(spec, now)
    with transaction.atomic():
        campaign = Campaign.objects.create(
            organization=organization,
            account=account,
            name=spec.name[:200],
            campaign_type=spec.campaign_type[:64],
            audience=spec.audience,
            audience_tag=spec.tag,
            template_name=spec.template_name,
            template_language=spec.template_language,
            parameters=list(spec.parameters),
            variant_b_template_name=spec.variant_b_template_name,
            variant_b_template_language=spec.variant_b_template_language or spec.template_language
            if spec.variant_b_template_name
            else "",
            variant_b_percent=spec.variant_b_percent if spec.variant_b_template_name else 0,
            winner_metric=spec.winner_metric,
            max_per_second=spec.max_per_second,
            recurrence=spec.schedule if spec.schedule in ("daily", "weekly") else "",
            scheduled_at=scheduled_at,
            status=Status.DRAFT,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        if spec.audience == Campaign.Audience.CSV:
            try:
                campaign.audience_report = write_csv_audience(campaign, spec.numbers)
            except AudienceError as error:
                raise CampaignError(str(error), "numbers") from None
            campaign.materialized_at = timezone.now()
            if campaign.audience_report["valid"] == 0:
                raise CampaignError(
                    f"no valid phone number in the list ({campaign.audience_report['invalid']} invalid rows)",
                    "numbers",
                )
            campaign.save(update_fields=["audience_report", "materialized_at"])
        audit.record(
            "campaign.create",
            organization=organization,
            target=campaign,
            actor=actor,
            changes={
                "name": campaign.name,
                "audience": campaign.audience,
                "template": campaign.template_name,
            },
        )
    if status == Status.RUNNING:
        start_campaign(campaign)
    elif status == Status.SCHEDULED:
        Campaign.objects.filter(pk=campaign.pk).update(status=Status.SCHEDULED)
    campaign.refresh_from_db()
    return campaign


def _schedule(spec: CampaignSpec, now: datetime) -> tuple[str, datetime | None]:
    if spec.schedule == "draft":
        return Status.DRAFT, None
    if spec.schedule == "now":
        return Status.RUNNING, None
    if spec.schedule not in ("at", "daily", "weekly"):
        raise CampaignError("schedule: must be one of now, at, daily, weekly, draft", "schedule")
    if spec.scheduled_at is None:
        if spec.schedule == "at":
            raise CampaignError("scheduled_at: required with schedule 'at'", "scheduled_at")
        return Status.SCHEDULED, now
    if timezone.is_naive(spec.scheduled_at):
        raise CampaignError("scheduled_at: give a time zone (e.g. 2026-12-01T09:00:00Z)", "scheduled_at")
    return Status.SCHEDULED, spec.scheduled_at


def _check_spec(account: BusinessAccount, spec: CampaignSpec) -> None:
    if not spec.name.strip():
        raise CampaignError("name: required", "name")
    if spec.audience not in Campaign.Audience.values:
        raise CampaignError(f"audience: must be one of {', '.join(Campaign.Audience.values)}", "audience")
    if spec.audience == Campaign.Audience.TAG and not spec.tag:
        raise CampaignError("tag: required for a tag audience", "tag")
    if spec.audience == Campaign.Audience.CSV:
        if spec.numbers is None:
            raise CampaignError("numbers: a CSV file or a list of numbers is required", "numbers")
        if spec.schedule in ("daily", "weekly"):
            raise CampaignError(
                "schedule: a recurring campaign reads its audience from contacts, not a list", "schedule"
            )
    if not 0 <= spec.variant_b_percent <= 100:
        raise CampaignError("variant_b_percent: between 0 and 100", "variant_b_percent")
    if spec.variant_b_template_name and not 0 < spec.variant_b_percent < 100:
        raise CampaignError("variant_b_percent: between 1 and 99 with a variant B", "variant_b_percent")
    if spec.winner_metric and spec.winner_metric not in Campaign.WinnerMetric.values:
        raise CampaignError(
            f"winner_metric: one of {', '.join(Campaign.WinnerMetric.values)}", "winner_metric"
        )
    if spec.max_per_second is not None and spec.max_per_second < 1:
        raise CampaignError("max_per_second: at least 1", "max_per_second")
    for source in spec.parameters:
        if not isinstance(source, str) or not source:
            raise CampaignError("parameters: each must be a non-empty string", "parameters")
        if spec.audience != Campaign.Audience.CSV and not _is_contact_source(source):
            raise CampaignError(
                f"parameters: {source!r} is not a contact field (name, wa_id, profile.<key>, text:<value>)",
                "parameters",
            )
    templates = [(spec.template_name, spec.template_language, "template_name")]
    if spec.variant_b_template_name:
        language = spec.variant_b_template_language or spec.template_language
        templates.append((spec.variant_b_template_name, language, "variant_b_template_name"))
    for name, language, field_name in templates:
        _check_template(account, name, language, len(spec.parameters), field_name)


def _is_contact_source(source: str) -> bool:
    return source in CONTACT_FIELDS or source.startswith(("profile.", "text:"))


def _check_template(account: BusinessAccount, name: str, language: str, count: int, field_name: str) -> None:
    """A synced template must be approved and take ``count`` body parameters; one never
    synced is left to Meta (as ``send_message`` does)."""
    from ...services.templates import validate_template_parameters

    if not name:
        raise CampaignError(f"{field_name}: required", field_name)
    try:
        validate_template_parameters(account, name, language, template_components(["x"] * count))
    except WacloudError as error:
        raise CampaignError(f"{field_name}: {error}", field_name) from None


def template_components(params: list[str]) -> list[dict[str, Any]] | None:
    if not params:
        return None
    return [{"type": "body", "parameters": [{"type": "text", "text": str(value)} for value in params]}]


# -- starting and the schedule ---------------------------------------------------------------------


def start_campaign(campaign: Campaign, *, enqueue: bool = True) -> Campaign:
    """Write the audience (contacts: read now) and mark it running; then hand it to the
    sender (Celery, or inline after the commit). A draft or scheduled campaign only."""
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.status not in (Status.DRAFT, Status.SCHEDULED):
            raise CampaignStateError(
                f"campaign {locked.pk} is {locked.status}; only a draft or scheduled one starts"
            )
        if locked.materialized_at is None:
            write_contact_audience(locked)
            locked.materialized_at = timezone.now()
        locked.status, locked.started_at = Status.RUNNING, timezone.now()
        locked.heartbeat_at = locked.started_at
        locked.save(update_fields=["status", "started_at", "materialized_at", "heartbeat_at", "updated_at"])
        audit.record("campaign.start", organization=locked.organization, target=locked)
        if enqueue:
            transaction.on_commit(lambda: schedule_run(locked.pk))
    return locked


def schedule_run(campaign_id: int) -> None:
    """Send on Celery, or inline now. Never raises: a running campaign nobody sends is picked
    up again by :func:`start_due_campaigns`."""
    from ...conf import use_celery

    try:
        if use_celery():
            from ...tasks import run_campaign

            run_campaign.delay(campaign_id)
            return
    except Exception:
        logger.exception("could not queue campaign %s; the sweep will pick it up", campaign_id)
        return
    from .campaign_sending import run_campaign as run

    try:
        run(campaign_id)
    except Exception:
        logger.exception("campaign %s failed inline", campaign_id)


def start_due_campaigns(now: datetime | None = None) -> dict[str, int]:
    """Start scheduled campaigns that are due (a recurring one starts a run of its own and
    moves to its next time), and hand running campaigns whose worker went silent to a new
    one. Run every minute (beat)."""
    now = now or timezone.now()
    started = resumed = 0
    due = Campaign.objects.filter(status=Status.SCHEDULED, scheduled_at__lte=now).order_by("scheduled_at")
    for campaign in due.iterator():
        if campaign.recurrence:
            step = timedelta(days=1 if campaign.recurrence == Campaign.Recurrence.DAILY else 7)
            following = campaign.scheduled_at + step
            while following <= now:
                following += step  # occurrences missed while nothing ran are not sent late
            # Conditional: two sweeps never start the same occurrence twice.
            if not Campaign.objects.filter(
                pk=campaign.pk, status=Status.SCHEDULED, scheduled_at=campaign.scheduled_at
            ).update(scheduled_at=following):
                continue
            run = _occurrence_of(campaign)
            start_campaign(run)
        else:
            try:
                start_campaign(campaign)
            except CampaignStateError:
                continue
        started += 1
    lease = timedelta(seconds=campaign_setting("CLAIM_LEASE_SECONDS"))
    silent = Campaign.objects.filter(status=Status.RUNNING, heartbeat_at__lt=now - lease)
    for campaign_id in silent.values_list("pk", flat=True):
        Campaign.objects.filter(pk=campaign_id).update(heartbeat_at=now)
        schedule_run(campaign_id)
        resumed += 1
    return {"started": started, "resumed": resumed}


def _occurrence_of(schedule: Campaign) -> Campaign:
    copied = {
        name: getattr(schedule, name)
        for name in (
            "organization_id",
            "account_id",
            "campaign_type",
            "audience",
            "audience_tag",
            "template_name",
            "template_language",
            "parameters",
            "variant_b_template_name",
            "variant_b_template_language",
            "variant_b_percent",
            "winner_metric",
            "max_per_second",
            "created_by_id",
        )
    }
    name = f"{schedule.name} ({timezone.now():%Y-%m-%d})"[:200]
    return Campaign.objects.create(**copied, name=name, parent=schedule, status=Status.DRAFT)


# -- pause, resume, cancel ---------------------------------------------------------------------------


def pause_campaign(campaign: Campaign, reason: str = "paused by a user", *, actor: Any = None) -> Campaign:
    """Stop sending after the batch in flight; :func:`resume_campaign` goes on where it stopped."""
    return _transition(
        campaign,
        (Status.RUNNING, Status.SCHEDULED),
        Status.PAUSED,
        "campaign.pause",
        actor=actor,
        reason=reason,
    )


def resume_campaign(campaign: Campaign, *, actor: Any = None) -> Campaign:
    resumed = _transition(campaign, (Status.PAUSED,), Status.RUNNING, "campaign.resume", actor=actor)
    if resumed.started_at is None:
        # Paused before it started (or a recurring schedule): back to its schedule; due now, it starts.
        Campaign.objects.filter(pk=resumed.pk).update(status=Status.SCHEDULED)
        resumed.refresh_from_db()
        due = resumed.scheduled_at is None or resumed.scheduled_at <= timezone.now()
        if due and not resumed.recurrence:
            return start_campaign(resumed)
        return resumed
    transaction.on_commit(lambda: schedule_run(resumed.pk))
    return resumed


def cancel_campaign(campaign: Campaign, *, actor: Any = None) -> Campaign:
    """Stop for good: recipients not yet sent are marked skipped (``cancelled``)."""
    cancelled = _transition(campaign, ACTIVE, Status.CANCELLED, "campaign.cancel", actor=actor)
    CampaignRecipient.objects.filter(campaign=cancelled, status=Recipient.QUEUED).update(
        status=Recipient.SKIPPED, error="cancelled", updated_at=timezone.now()
    )
    return cancelled


def _transition(
    campaign: Campaign,
    allowed: tuple[str, ...],
    status: str,
    action: str,
    *,
    actor: Any = None,
    reason: str = "",
) -> Campaign:
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.status not in allowed:
            raise CampaignStateError(
                f"campaign {locked.pk} is {locked.status}; cannot {action.split('.')[1]} it"
            )
        previous, locked.status = locked.status, status
        locked.pause_reason = reason[:255] if status == Status.PAUSED else ""
        if status == Status.CANCELLED:
            locked.finished_at = timezone.now()
        if status == Status.RUNNING:
            locked.heartbeat_at = timezone.now()
        locked.save(update_fields=["status", "pause_reason", "finished_at", "heartbeat_at", "updated_at"])
        audit.record(
            action,
            organization=locked.organization,
            target=locked,
            actor=actor,
            changes={"status": [previous, status], **({"reason": reason} if reason else {})},
        )
    return locked


# -- progress and results ----------------------------------------------------------------------------


def progress(campaign: Campaign) -> dict[str, Any]:
    """Recipients per status (one aggregate query), the total and the share done."""
    counts = dict.fromkeys(Recipient.values, 0)
    rows = CampaignRecipient.objects.filter(campaign=campaign).values("status").annotate(n=Count("pk"))
    for row in rows.order_by():
        counts[row["status"]] = row["n"]
    total = sum(counts.values())
    pending = counts[Recipient.QUEUED] + counts[Recipient.SENDING]
    return {
        "total": total,
        "counts": counts,
        "done": total - pending,
        "percent": round(100.0 * (total - pending) / total, 1) if total else 0.0,
    }


def ab_results(campaign: Campaign) -> dict[str, Any] | None:
    """Per variant: sent, read (read or replied), replied and the rates; the winner by the
    campaign's metric (``None`` on a tie or before anything was sent). ``None`` without A/B."""
    if not campaign.variant_b_template_name:
        return None
    read_q = Q(status__in=(Recipient.READ, Recipient.REPLIED))
    rows = (
        CampaignRecipient.objects.filter(campaign=campaign)
        .values("variant")
        .annotate(
            recipients=Count("pk"),
            sent=Count("pk", filter=Q(status__in=SENT_STATUSES)),
            read=Count("pk", filter=read_q),
            replied=Count("pk", filter=Q(status=Recipient.REPLIED)),
        )
        .order_by("variant")
    )
    variants: dict[str, dict[str, Any]] = {}
    for row in rows:
        sent = row["sent"]
        variants[row["variant"]] = {
            "recipients": row["recipients"],
            "sent": sent,
            "read": row["read"],
            "replied": row["replied"],
            "read_rate": round(row["read"] / sent, 4) if sent else 0.0,
            "reply_rate": round(row["replied"] / sent, 4) if sent else 0.0,
        }
    metric = campaign.winner_metric or Campaign.WinnerMetric.READ_RATE
    scores = {name: stats[metric] for name, stats in variants.items() if stats["sent"]}
    winner = None
    if len(scores) == 2 and len(set(scores.values())) == 2:
        winner = max(scores, key=scores.__getitem__)
    return {"metric": metric, "variants": variants, "winner": winner}


def run_demo_campaign(
    account: BusinessAccount,
    numbers: Iterable[str],
    *,
    template_name: str = "hello_world",
    template_language: str = "en_US",
    name: str = "Demo campaign",
) -> dict[str, Any]:
    """A small campaign sent now, in this process (``make demo``): returns its id, status and
    progress. ``numbers`` as people write them; invalid ones are reported, not sent."""
    from .campaign_sending import run_campaign

    spec = CampaignSpec(
        name=name,
        template_name=template_name,
        template_language=template_language,
        audience=Campaign.Audience.CSV,
        numbers=list(numbers),
        schedule="draft",
    )
    campaign = create_campaign(account.organization, account, spec)
    start_campaign(campaign, enqueue=False)
    run_campaign(campaign.pk)
    campaign.refresh_from_db()
    return {
        "id": campaign.pk,
        "status": campaign.status,
        "progress": progress(campaign),
        "audience_report": campaign.audience_report,
    }
