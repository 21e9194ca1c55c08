"""Sending a campaign, restart-safe, at the account's throughput.

Each batch is **claimed** with a conditional UPDATE (``queued`` -> ``sending`` with a fresh
claim token), so two workers never hold the same recipient. Consent refusals are marked
``skipped``; the rest are marked **handed off** (committed) and sent in one
``Client.send_many`` call (the GIL released, the account's rate limiter asked per message);
the answers are recorded in one transaction: ``Message`` rows (bulk), the recipients' wamids.

A worker that dies leaves its claim behind. After ``WACLOUD["CAMPAIGNS"]["CLAIM_LEASE_SECONDS"]``
:func:`recover_stale_claims` takes it over: rows never handed off go back to ``queued``
(nothing left the process), rows handed off become ``unknown`` -- their request may have
reached Meta and Meta has no idempotency key, so they are never resent automatically
(the outbound service's ``handed_off_at``/``unknown`` rule, docs/sending.md);
:func:`requeue_unknown` is a human's decision.

Meta's answers: 131049 (the per-user marketing limit) fails that recipient and the campaign
goes on; 131048 (spam rate limit: the number's quality) or a paused/disabled template (132015,
132016) pauses the whole campaign and puts the refused recipients back in the queue, so
``resume`` goes on where it stopped. Retriable errors requeue the recipient (up to
``WACLOUD["SEND_MAX_ATTEMPTS"]``).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from wacloud import messages as wa_messages
from wacloud.errors import DeliveryUnknown, GraphAPIError, WacloudError

from ...conf import get_setting
from ...log_privacy import get_logger
from ...models import (
    Campaign,
    CampaignRecipient,
    ConsentRecord,
    Contact,
    Conversation,
    Message,
    PendingStatus,
    RateLimitUsage,
)
from ...services import audit
from ...services.circuit import check_circuit, counts_as_outage, record_outcome
from ...services.outbound import ConsentRequired, ContactOptedOut
from . import campaign_rows
from .campaigns import campaign_setting, pause_campaign, template_components

logger = get_logger("wacloud.campaigns")
Status, Recipient = Campaign.Status, CampaignRecipient.Status

#: Meta's answers that stop the whole campaign (the number's quality, or the template).
PAUSING_CODES = {
    131048: "spam rate limit hit (131048): the number's quality caps it",
    132015: "the template is paused for low quality (132015)",
    132016: "the template is disabled for low quality (132016)",
}
MARKETING_LIMIT = 131049


@dataclass
class Claim:
    token: str
    rows: list[dict[str, Any]]


class _Pacer:
    """Holds the campaign to ``max_per_second`` (the account's limiter is applied per message
    inside ``send_many``; this is the campaign's own cap)."""

    def __init__(self, per_second: int | None, sleep: Callable[[float], None]) -> None:
        self.per_second, self.sleep = per_second, sleep
        self.started, self.count = time.monotonic(), 0

    def wait(self, sent: int) -> None:
        if not self.per_second or not sent:
            return
        self.count += sent
        delay = self.started + self.count / self.per_second - time.monotonic()
        if delay > 0:
            self.sleep(delay)


def run_campaign(
    campaign_id: int, *, max_seconds: float | None = None, sleep: Callable[[float], None] = time.sleep
) -> dict[str, Any]:
    """Send batches until the campaign is done, paused or cancelled (checked before every
    batch), or ``max_seconds`` passed (then ``continue`` is true: call again). Safe to run
    in several workers at once. Returns counts of what this call did.

    Two batches overlap: while one batch's requests are in flight (``send_many`` on a
    thread, the GIL released; that thread never touches the database), this thread
    records the previous batch's answers and claims and prepares the next one."""
    campaign = Campaign.objects.select_related("account", "organization").filter(pk=campaign_id).first()
    if campaign is None:
        return {"continue": False}
    recover_stale_claims(campaign)
    totals: Counter[str] = Counter()
    size = int(campaign_setting("BATCH_SIZE"))
    if campaign.max_per_second:
        size = max(1, min(size, campaign.max_per_second))
    pacer = _Pacer(campaign.max_per_second, sleep)
    started = time.monotonic()
    in_flight: _InFlight | None = None
    with (
        audit.acting_as(None, source="task"),
        ThreadPoolExecutor(1, thread_name_prefix="wacloud-campaign") as pool,
    ):
        try:
            while True:
                running = Campaign.objects.filter(pk=campaign.pk, status=Status.RUNNING).exists()
                claim = claim_batch(campaign, size) if running else None
                deferred = totals["deferred"]
                following = _dispatch(campaign, claim, pool, totals) if claim is not None else None
                # The account's circuit is open: stop here; start_due_campaigns picks the
                # campaign up again, and its next batch is the probe.
                circuit_open = totals["deferred"] > deferred
                if in_flight is not None:
                    outcome = _collect(campaign, in_flight)
                    totals.update(outcome)
                    if outcome.get("retry"):
                        sleep(1.0)  # throttled: let the limit recover before the next batch
                    pacer.wait(outcome.get("sent", 0) + outcome.get("failed", 0))
                in_flight = following
                if in_flight is None:
                    if running and claim is None:
                        _complete_if_done(campaign)
                    if claim is None or circuit_open:
                        break
                    continue  # the claimed batch needed no request (all skipped or failed)
                if max_seconds is not None and time.monotonic() - started >= max_seconds:
                    totals.update(_collect(campaign, in_flight))
                    in_flight = None
                    return {**totals, "continue": True}
        finally:
            if in_flight is not None:  # an error while a batch was in flight: record it if possible
                try:
                    _collect(campaign, in_flight)
                except Exception:
                    logger.exception(
                        "campaign %s: could not record a batch; recovery marks it unknown", campaign.pk
                    )
    return {**totals, "continue": False}


@dataclass
class _InFlight:
    claim: Claim
    rows: list[dict[str, Any]]
    future: Future


def claim_batch(campaign: Campaign, size: int) -> Claim | None:
    """Up to ``size`` queued recipients, now ``sending`` under a new token (``None``: none queued).
    The conditional UPDATE is the lock: a row another worker claimed first is not in this batch."""
    ids = list(
        CampaignRecipient.objects.filter(campaign=campaign, status=Recipient.QUEUED)
        .order_by("pk")
        .values_list("pk", flat=True)[:size]
    )
    if not ids:
        return None
    token, now = uuid.uuid4().hex, timezone.now()
    # A range, not the list of ids: the same rows (the first queued ones), without 1,000 parameters.
    batch = CampaignRecipient.objects.filter(campaign=campaign, pk__gte=ids[0], pk__lte=ids[-1])
    batch.filter(status=Recipient.QUEUED).update(
        status=Recipient.SENDING,
        claim_token=token,
        claimed_at=now,
        handed_off_at=None,
        attempts=F("attempts") + 1,
        updated_at=now,
    )
    rows = list(
        batch.filter(claim_token=token, status=Recipient.SENDING)
        .order_by("pk")
        .values("pk", "contact_id", "wa_id", "variant", "params", "attempts")
    )
    return Claim(token, rows)


def send_batch(campaign: Campaign, claim: Claim) -> Counter[str]:
    """Check consent, hand off, send and record one claimed batch (without overlap)."""
    outcome: Counter[str] = Counter()
    with ThreadPoolExecutor(1) as pool:
        flight = _dispatch(campaign, claim, pool, outcome)
        if flight is not None:
            outcome.update(_collect(campaign, flight))
    return outcome


def _dispatch(
    campaign: Campaign, claim: Claim, pool: ThreadPoolExecutor, outcome: Counter[str]
) -> _InFlight | None:
    """Skip consent refusals, build the payloads, commit the hand-off, submit the requests."""
    if not claim.rows:
        return None
    account = campaign.account
    refused = consent_refusals(account, claim.rows)
    if refused:
        _skip_refused(campaign, claim, refused)
        outcome["skipped"] += len(refused)
    rows, payloads = [], []
    for row in claim.rows:
        if row["pk"] in refused:
            continue
        try:
            payloads.append(_message_for(campaign, row).to_payload(row["wa_id"]))
            rows.append(row)
        except (WacloudError, ValueError) as error:
            _finish(
                claim,
                [row["pk"]],
                Recipient.FAILED,
                code=getattr(error, "code", None) or 100,
                error=str(error),
            )
            outcome["failed"] += 1
    if not rows:
        return None
    from ...services.clients import client_for

    try:
        client = client_for(account)
    except Exception as error:  # configuration: nothing left, so the rows simply wait
        _release(claim, [row["pk"] for row in rows])
        _pause_quietly(campaign, f"cannot send: {error}"[:255])
        outcome["released"] += len(rows)
        return None
    permit = check_circuit(account)
    if not permit.allowed:  # Meta keeps failing for this account: nothing is attempted or counted
        _release(claim, [row["pk"] for row in rows], attempts_back=True)
        outcome["deferred"] += len(rows)
        return None
    if permit.probe and len(rows) > 1:  # one request speaks for the account; the rest wait
        _release(claim, [row["pk"] for row in rows[1:]], attempts_back=True)
        outcome["deferred"] += len(rows) - 1
        rows, payloads = rows[:1], payloads[:1]
    # Committed before the requests: from here on a lost answer means "maybe sent".
    # Refused and unbuildable rows are no longer ``sending``: the rest is exactly ``rows``.
    CampaignRecipient.objects.filter(
        campaign=campaign, claim_token=claim.token, status=Recipient.SENDING
    ).update(handed_off_at=timezone.now())
    future = pool.submit(client.send_many, payloads, concurrency=int(campaign_setting("CONCURRENCY")))
    return _InFlight(claim, rows, future)


def _collect(campaign: Campaign, flight: _InFlight) -> Counter[str]:
    try:
        results = flight.future.result()
    except Exception as error:
        logger.exception("campaign %s: send_many failed; the batch may have been sent", campaign.pk)
        _finish(
            flight.claim,
            [row["pk"] for row in flight.rows],
            Recipient.UNKNOWN,
            error=f"delivery unknown: {error}",
        )
        return Counter(unknown=len(flight.rows))
    return record_results(campaign, flight.claim, flight.rows, results)


def _template_of(campaign: Campaign, variant: str) -> tuple[str, str]:
    if variant == "B" and campaign.variant_b_template_name:
        return campaign.variant_b_template_name, campaign.variant_b_template_language
    return campaign.template_name, campaign.template_language


def _message_for(campaign: Campaign, row: dict[str, Any]) -> wa_messages.Template:
    name, language = _template_of(campaign, row["variant"])
    return wa_messages.Template(name=name, language=language, components=template_components(row["params"]))


def record_results(
    campaign: Campaign, claim: Claim, rows: list[dict[str, Any]], results: list[Any]
) -> Counter[str]:
    """Store what Meta answered for each handed-off row, in one transaction."""
    outcome: Counter[str] = Counter()
    now = timezone.now()
    sent, failed, requeue, retry, unknown = [], [], [], [], []
    pause_reason = ""
    max_attempts = int(get_setting("SEND_MAX_ATTEMPTS", 5))
    for row, result in zip(rows, results, strict=True):
        if not isinstance(result, GraphAPIError):
            sent.append((row, result.message_id))
        elif isinstance(result, DeliveryUnknown):
            unknown.append(row["pk"])
        elif result.code in PAUSING_CODES:
            pause_reason = pause_reason or PAUSING_CODES[result.code]
            requeue.append(row["pk"])
        elif result.retriable and row["attempts"] < max_attempts:
            retry.append(row["pk"])
        else:
            failed.append((row["pk"], result))
    with transaction.atomic():
        wamids = _store_sent(campaign, claim, sent, now)
        for pk, error in failed:
            _finish(claim, [pk], Recipient.FAILED, code=error.code or None, error=str(error))
        if unknown:
            _finish(
                claim, unknown, Recipient.UNKNOWN, error="delivery unknown: no answer after the request left"
            )
        # Nothing of these reached a customer: back to the queue (a pause does not count as a try).
        _release(claim, requeue, attempts_back=True)
        _release(claim, retry)
        Campaign.objects.filter(pk=campaign.pk).update(heartbeat_at=now)
        audit.record(
            "campaign.batch",
            organization=campaign.organization,
            target=campaign,
            changes={
                "sent": len(sent),
                "failed": len(failed),
                "requeued": len(requeue) + len(retry),
                "unknown": len(unknown),
            },
        )
    _apply_early_statuses(wamids)
    _report_to_circuit(campaign.account, results)
    if pause_reason:
        _pause_quietly(campaign, pause_reason)
    outcome.update(
        sent=len(sent), failed=len(failed), requeued=len(requeue), retry=len(retry), unknown=len(unknown)
    )
    return outcome


def _report_to_circuit(account: Any, results: list[Any]) -> None:
    """Meta's answers feed the account's circuit breaker: each outage-like error, then one
    success when any request was answered (``send_many`` keeps no order between them)."""
    answered = False
    for result in results:
        if isinstance(result, GraphAPIError) and counts_as_outage(result):
            record_outcome(account, result)
        else:
            answered = True
    if answered:
        record_outcome(account, None)


def _store_sent(campaign: Campaign, claim: Claim, sent: list[tuple[dict, str]], now: datetime) -> list[str]:
    if not sent:
        return []
    contact_ids = [row["contact_id"] for row, _ in sent if row["contact_id"]]
    conversations = dict(
        campaign_rows.select_in(
            f"SELECT contact_id, id FROM {campaign_rows.table(Conversation)} "
            "WHERE account_id = %s AND status = %s AND contact_id IN ({})",
            contact_ids,
            [campaign.account_id, Conversation.Status.OPEN],
        )
    )
    existing = campaign_rows.message_ids([wamid for _, wamid in sent])
    shared = {
        "account_id": campaign.account_id,
        "direction": Message.Direction.OUTBOUND,
        "type": "template",
        "status": Message.Status.SENT,
        "timestamp": now,
        "sent_at": now,
        "send_attempts": 1,
        "handed_off_at": now,
        "reference": f"campaign:{campaign.pk}",
    }
    new_rows = []
    for row, wamid in sent:
        if wamid in existing:
            continue  # an echo stored it first: the recipient points at that row
        name, language = _template_of(campaign, row["variant"])
        content = {"name": name, "language": language, "components": template_components(row["params"])}
        new_rows.append(
            {
                "wamid": wamid,
                "contact_id": row["contact_id"],
                "conversation_id": conversations.get(row["contact_id"]),
                "content": content,
                "text": f"[template {name} ({language})]",
            }
        )
    message_ids = {**existing, **campaign_rows.insert_messages(shared, new_rows, now)}
    campaign_rows.mark_sent(
        claim.token, [(row["pk"], wamid, message_ids.get(wamid)) for row, wamid in sent], now
    )
    _count_usage(campaign.account_id, len(sent), now)
    return [wamid for _, wamid in sent]


def _apply_early_statuses(wamids: list[str]) -> None:
    """Statuses that overtook the send's answer wait as PendingStatus: one query finds them."""
    from ...services.statuses import apply_pending_statuses_for_wamid

    if not wamids:
        return
    sql = f"SELECT DISTINCT wamid FROM {campaign_rows.table(PendingStatus)} WHERE wamid IN ({{}})"
    for (wamid,) in campaign_rows.select_in(sql, wamids):
        apply_pending_statuses_for_wamid(wamid)


def _count_usage(account_id: int, count: int, now: datetime) -> None:
    hour = now.replace(minute=0, second=0, microsecond=0)
    usage, created = RateLimitUsage.objects.get_or_create(
        account_id=account_id, window=RateLimitUsage.Window.HOUR, window_start=hour, defaults={"count": count}
    )
    if not created:
        RateLimitUsage.objects.filter(pk=usage.pk).update(count=F("count") + count)


def _finish(claim: Claim, pks: list[int], status: str, *, code: int | None = None, error: str = "") -> None:
    CampaignRecipient.objects.filter(pk__in=pks, claim_token=claim.token, status=Recipient.SENDING).update(
        status=status, error_code=code, error=error[:500], claim_token="", updated_at=timezone.now()
    )


def _release(claim: Claim, pks: list[int], *, attempts_back: bool = False) -> None:
    if not pks:
        return
    changes: dict[str, Any] = {"attempts": F("attempts") - 1} if attempts_back else {}
    CampaignRecipient.objects.filter(pk__in=pks, claim_token=claim.token, status=Recipient.SENDING).update(
        status=Recipient.QUEUED,
        claim_token="",
        claimed_at=None,
        handed_off_at=None,
        updated_at=timezone.now(),
        **changes,
    )


def _pause_quietly(campaign: Campaign, reason: str) -> None:
    try:
        pause_campaign(campaign, reason)
    except WacloudError:
        pass  # paused or cancelled meanwhile: nothing more to stop
    else:
        logger.warning("campaign %s paused: %s", campaign.pk, reason)


def _complete_if_done(campaign: Campaign) -> None:
    if CampaignRecipient.objects.filter(
        campaign=campaign, status__in=(Recipient.QUEUED, Recipient.SENDING)
    ).exists():
        return  # another worker's batch is in flight; it completes the campaign
    with transaction.atomic():
        if Campaign.objects.filter(pk=campaign.pk, status=Status.RUNNING).update(
            status=Status.COMPLETED, finished_at=timezone.now(), updated_at=timezone.now()
        ):
            audit.record("campaign.complete", organization=campaign.organization, target=campaign)


# -- consent -------------------------------------------------------------------------------------


def consent_refusals(account: Any, rows: list[dict[str, Any]]) -> dict[int, ConsentRequired]:
    """The consent service's rules for the ``marketing`` purpose (``consent._check``), for a
    whole batch in two queries: opted out of everything, marketing revoked, or never granted
    with ``WACLOUD["MARKETING_REQUIRES_OPT_IN"]``. Returns {recipient pk: the refusal}."""
    contact_ids = [row["contact_id"] for row in rows if row["contact_id"]]
    contacts, records_table = campaign_rows.table(Contact), campaign_rows.table(ConsentRecord)
    sql = f"SELECT id FROM {contacts} WHERE opted_out = %s AND id IN ({{}})"
    opted_out = {pk for (pk,) in campaign_rows.select_in(sql, contact_ids, [True])}
    latest: dict[int, tuple[str, str, Any]] = {}
    # Newest first per contact (occurred_at, then id): the record that decides, as latest_record().
    sql = (
        f"SELECT contact_id, status, source, occurred_at FROM {records_table} WHERE purpose = %s "
        "AND contact_id IN ({}) ORDER BY contact_id, occurred_at DESC, id DESC"
    )
    for contact_id, status, source, occurred_at in campaign_rows.select_in(
        sql, contact_ids, [ConsentRecord.Purpose.MARKETING]
    ):
        latest.setdefault(contact_id, (status, source, occurred_at))
    requires_opt_in = get_setting("MARKETING_REQUIRES_OPT_IN")
    refused: dict[int, ConsentRequired] = {}
    for row in rows:
        wa_id, contact_id = row["wa_id"], row["contact_id"]
        if contact_id in opted_out:
            refused[row["pk"]] = ContactOptedOut(
                f"{wa_id} opted out of messages from this account", wa_id=wa_id
            )
            continue
        record = latest.get(contact_id)
        if record is not None and record[0] == ConsentRecord.Status.REVOKED:
            refused[row["pk"]] = ConsentRequired(
                f"{wa_id} revoked marketing consent ({record[1]}, {record[2]:%Y-%m-%d %H:%M} UTC)",
                purpose=ConsentRecord.Purpose.MARKETING,
                reason="revoked",
                wa_id=wa_id,
            )
        elif record is None and requires_opt_in:
            refused[row["pk"]] = ConsentRequired(
                f'{wa_id} never opted in to marketing, and WACLOUD["MARKETING_REQUIRES_OPT_IN"] is on',
                purpose=ConsentRecord.Purpose.MARKETING,
                reason="opt_in_required",
                wa_id=wa_id,
            )
    return refused


def _skip_refused(campaign: Campaign, claim: Claim, refused: dict[int, ConsentRequired]) -> None:
    from .consent import record_refusal

    by_reason: dict[str, list[int]] = {}
    for pk, refusal in refused.items():
        by_reason.setdefault(f"consent: {refusal.purpose} {refusal.reason}", []).append(pk)
    for reason, pks in by_reason.items():
        _finish(claim, pks, Recipient.SKIPPED, error=reason)
    contact_of = dict(CampaignRecipient.objects.filter(pk__in=list(refused)).values_list("pk", "contact_id"))
    contacts = Contact.objects.in_bulk([pk for pk in contact_of.values() if pk])
    for pk, refusal in refused.items():
        record_refusal(campaign.account, contacts.get(contact_of.get(pk)), refusal)


# -- recovery ------------------------------------------------------------------------------------


def recover_stale_claims(campaign: Campaign, now: datetime | None = None) -> dict[str, int]:
    """Take over the claims of workers that died (older than the lease): rows never handed
    off go back to ``queued``; rows handed off become ``unknown`` (maybe sent; never resent)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=campaign_setting("CLAIM_LEASE_SECONDS"))
    stale = CampaignRecipient.objects.filter(
        campaign=campaign, status=Recipient.SENDING, claimed_at__lt=cutoff
    )
    requeued = stale.filter(handed_off_at__isnull=True).update(
        status=Recipient.QUEUED, claim_token="", claimed_at=None, attempts=F("attempts") - 1, updated_at=now
    )
    unknown = stale.filter(handed_off_at__isnull=False).update(
        status=Recipient.UNKNOWN,
        claim_token="",
        updated_at=now,
        error="delivery unknown: the worker handed the request off and never recorded an answer",
    )
    if requeued or unknown:
        logger.warning(
            "campaign %s: took over stale claims: %s requeued, %s unknown", campaign.pk, requeued, unknown
        )
    return {"requeued": requeued, "unknown": unknown}


def requeue_unknown(campaign: Campaign, *, actor: Any = None) -> int:
    """A human's decision: send the ``unknown`` recipients again (some may get it twice)."""
    with transaction.atomic():
        count = CampaignRecipient.objects.filter(campaign=campaign, status=Recipient.UNKNOWN).update(
            status=Recipient.QUEUED, claimed_at=None, handed_off_at=None, error="", updated_at=timezone.now()
        )
        audit.record(
            "campaign.requeue_unknown",
            organization=campaign.organization,
            target=campaign,
            actor=actor,
            changes={"requeued": count},
        )
    return count
