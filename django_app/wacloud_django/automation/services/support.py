"""Customer support rules (seed 000's ``customer_support`` workflow, docs/automation.md).

For each inbound text message (after the consent keywords, which it never answers):

- a trigger keyword (a whole word or phrase; case and accents ignored) gets the rule's
  auto response as a service reply, at most once per conversation per ``cooldown_seconds``
  (outside business hours, the away message instead);
- an escalate condition flags the conversation (an ``Escalation``, priority ``urgent``),
  assigns it (the rule's ``escalate_to``, else round robin among the organization's
  agents and above), sends ``conversation_escalated`` and POSTs the rule's webhook, both
  after the commit.

Bot loops: a text equal to one of our own auto responses or away messages is never
answered, and no conversation gets more than :data:`LOOP_LIMIT` automatic replies in
:data:`LOOP_WINDOW`, whatever the rules' cooldowns.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import unicodedata
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from datetime import time as clock
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from wacloud.errors import WacloudError

from ... import signals
from ...conf import use_celery
from ...log_privacy import get_logger
from ...models import (
    BusinessAccount,
    ConsentRecord,
    Contact,
    Escalation,
    Membership,
    Message,
    Organization,
    Role,
    SupportFiring,
    SupportRule,
)
from ...services import audit
from .confirmations import resolved_by

logger = get_logger("wacloud.automation.support")

#: At most this many automatic replies per conversation within LOOP_WINDOW (bot loops).
LOOP_LIMIT = 3
LOOP_WINDOW = timedelta(minutes=10)
#: Escalation webhook: attempts and the pause before each retry (seconds).
WEBHOOK_ATTEMPTS = 3
WEBHOOK_BACKOFF = 0.5
WEBHOOK_TIMEOUT = 5
SIGNATURE_HEADER = "X-Wacloud-Signature-256"

SUPPORTED_TYPES = ("customer_support", "appointment_reminder", "marketing_campaign")
#: Named by seed 000 but not built yet: the API says so rather than pretending.
NOT_SUPPORTED_TYPES: tuple[str, ...] = ()
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Fields whose changes are audited (the secret is masked by the audit log).
AUDITED_FIELDS = (
    "name", "is_active", "account", "trigger_keywords", "auto_response", "escalate_conditions",
    "cooldown_seconds", "escalate_to", "webhook_url", "webhook_secret", "business_hours", "away_message",
)  # fmt: skip


# -- matching --------------------------------------------------------------------------------------


def normalize(text: str) -> str:
    """Accents dropped (NFKD, combining marks removed), case folded, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()
    return " ".join(plain.split())


def matches(text: str, phrases: Iterable[str]) -> str | None:
    """The first of ``phrases`` found in ``text`` as whole words ("help" is in "Help!" and
    "I need HELP", not in "helpful"; "urgência" is in "URGENCIA"), else ``None``."""
    normalized = normalize(text)
    for phrase in phrases:
        wanted = normalize(phrase)
        if wanted and re.search(rf"(?<!\w){re.escape(wanted)}(?!\w)", normalized):
            return phrase
    return None


# -- business hours --------------------------------------------------------------------------------


def _day_set(spec: str) -> set[int]:
    days: set[int] = set()
    for part in str(spec).lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in _DAYS or (last and last not in _DAYS):
            raise ValueError(f"days must name mon..sun (e.g. 'mon-fri,sat'), got {spec!r}")
        start, end = _DAYS.index(first), _DAYS.index(last or first)
        days.update(range(start, end + 1) if start <= end else [*range(start, 7), *range(0, end + 1)])
    return days


def _clock(value: str) -> clock:
    try:
        return clock.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"times are HH:MM, got {value!r}") from None


def validate_business_hours(hours: Mapping[str, Any]) -> dict[str, Any]:
    """``{"timezone": "...", "ranges": [{"days": "mon-fri", "start": "09:00", "end": "18:00"}]}``
    checked (``{}``: always open). Raises ``ValueError`` naming the problem."""
    if not hours:
        return {}
    if not isinstance(hours, Mapping) or not isinstance(hours.get("ranges"), list) or not hours["ranges"]:
        raise ValueError('business_hours needs "ranges": a list of {"days", "start", "end"}')
    try:
        ZoneInfo(str(hours.get("timezone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {hours.get('timezone')!r}") from None
    for item in hours["ranges"]:
        if not isinstance(item, Mapping) or not {"days", "start", "end"} <= set(item):
            raise ValueError('each range is {"days": "mon-fri", "start": "09:00", "end": "18:00"}')
        _day_set(item["days"])
        if _clock(item["start"]) >= _clock(item["end"]):
            raise ValueError(f"a range must start before it ends, got {item['start']}-{item['end']}")
    return {
        "timezone": str(hours.get("timezone") or "UTC"),
        "ranges": [dict(item) for item in hours["ranges"]],
    }


def within_business_hours(rule: SupportRule, now: datetime | None = None) -> bool:
    """Whether ``now`` (default ``timezone.now()``) falls in one of the rule's ranges, in its
    timezone. A rule without business hours is always open."""
    hours = rule.business_hours or {}
    if not hours.get("ranges"):
        return True
    local = (now or timezone.now()).astimezone(ZoneInfo(hours.get("timezone") or "UTC"))
    for item in hours["ranges"]:
        if local.weekday() in _day_set(item["days"]) and _clock(item["start"]) <= local.time() < _clock(
            item["end"]
        ):
            return True
    return False


# -- rules (the API's and the admin's one write path) ---------------------------------------------


def create_support_rule(
    organization: Organization, parameters: Mapping[str, Any], *, actor: Any = None,
    account: BusinessAccount | None = None,
) -> SupportRule:  # fmt: skip
    """A rule from seed 000's ``parameters`` (validated by the caller), audited."""
    with transaction.atomic():
        rule = SupportRule.objects.create(
            organization=organization, account=account, created_by=actor if _is_user(actor) else None,
            **_rule_fields(parameters),
        )  # fmt: skip
        audit.record(
            "support_rule.create", organization=organization, target=rule, actor=actor,
            changes=audit.changes_between({}, audit.snapshot(rule, AUDITED_FIELDS)),
        )  # fmt: skip
    return rule


def update_support_rule(rule: SupportRule, changes: Mapping[str, Any], *, actor: Any = None) -> SupportRule:
    """Change a rule's fields (the names of :data:`AUDITED_FIELDS`), audited."""
    unknown = set(changes) - set(AUDITED_FIELDS)
    if unknown:
        raise ValueError(f"unknown support rule fields: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        rule = SupportRule.objects.select_for_update().get(pk=rule.pk)
        before = audit.snapshot(rule, AUDITED_FIELDS)
        for name, value in changes.items():
            setattr(rule, name, value)
        rule.save()
        audit.record(
            "support_rule.update", organization=rule.organization, target=rule, actor=actor,
            changes=audit.changes_between(before, audit.snapshot(rule, AUDITED_FIELDS)),
        )  # fmt: skip
    return rule


def _rule_fields(parameters: Mapping[str, Any]) -> dict[str, Any]:
    fields = {
        name: parameters[name]
        for name in ("name", "trigger_keywords", "auto_response", "escalate_conditions", "cooldown_seconds",
                     "webhook_url", "away_message", "escalate_to")
        if parameters.get(name) is not None
    }  # fmt: skip
    if parameters.get("business_hours"):
        fields["business_hours"] = validate_business_hours(parameters["business_hours"])
    return fields


def _is_user(actor: Any) -> bool:
    return bool(getattr(actor, "is_authenticated", False))


def rules_for(account: BusinessAccount) -> list[SupportRule]:
    """The active rules that apply to ``account``'s messages (its own and organization-wide);
    read once per batch when webhooks are processed in batches."""
    from ...services.batch_scope import remember

    return remember(("support_rules", account.pk), lambda: list(
        SupportRule.objects.filter(organization_id=account.organization_id, is_active=True)
        .filter(Q(account__isnull=True) | Q(account=account))
        .order_by("pk")
    ))  # fmt: skip


# -- inbound ---------------------------------------------------------------------------------------


def handle_message(
    message: Message, contact: Contact | None, account: BusinessAccount
) -> list[SupportFiring]:
    """Apply the account's support rules to a newly stored message. Echoes, non-text
    messages, consent keywords and replies to confirmations are not this module's business."""
    if contact is None or message.direction != Message.Direction.INBOUND or message.type != "text":
        return []
    rules = rules_for(account)  # first: most accounts have none, and then nothing else is asked
    if not rules:
        return []
    if ConsentRecord.objects.filter(message=message).exists() or resolved_by(message):
        return []
    fired: list[SupportFiring] = []
    for rule in rules:
        try:
            fired.extend(_apply_rule(rule, message, contact, account))
        except Exception:  # one rule's failure must not stop the others, nor the intake
            logger.exception("support rule %s failed on message %s", rule.pk, message.pk)
    return fired


def _apply_rule(
    rule: SupportRule, message: Message, contact: Contact, account: BusinessAccount
) -> list[SupportFiring]:
    fired = []
    condition = matches(message.text, rule.escalate_conditions or [])
    if condition is not None:
        escalation = _escalate(rule, message, account, condition)
        if escalation is not None:
            fired.append(escalation)
    if matches(message.text, rule.trigger_keywords or []) is not None:
        reply = _auto_reply(rule, message, contact, account)
        if reply is not None:
            fired.append(reply)
    return fired


def _own_replies(account: BusinessAccount) -> set[str]:
    texts = set()
    for rule in rules_for(account):
        texts.update(normalize(text) for text in (rule.auto_response, rule.away_message) if text)
    return texts


def _auto_reply(
    rule: SupportRule, message: Message, contact: Contact, account: BusinessAccount
) -> SupportFiring | None:
    if normalize(message.text) in _own_replies(account):
        logger.info(
            "support rule %s: message %s repeats our own auto response (bot loop?)", rule.pk, message.pk
        )
        return None
    now = timezone.now()
    open_now = within_business_hours(rule, now)
    text = rule.auto_response if open_now else (rule.away_message or rule.auto_response)
    if not text:
        return None
    kind = SupportFiring.Kind.AUTO_RESPONSE if open_now else SupportFiring.Kind.AWAY
    replies = (SupportFiring.Kind.AUTO_RESPONSE, SupportFiring.Kind.AWAY)
    with transaction.atomic():
        # One rule's firings are serialized, so two messages at once cannot both pass the cooldown.
        SupportRule.objects.select_for_update().filter(pk=rule.pk).first()
        recent = SupportFiring.objects.filter(conversation_id=message.conversation_id, kind__in=replies)
        if recent.filter(rule=rule, created_at__gt=now - timedelta(seconds=rule.cooldown_seconds)).exists():
            return None
        if recent.filter(created_at__gt=now - LOOP_WINDOW).count() >= LOOP_LIMIT:
            logger.warning("support: conversation %s had %s auto replies in %s; not answering",
                           message.conversation_id, LOOP_LIMIT, LOOP_WINDOW)  # fmt: skip
            return None
        try:
            with transaction.atomic():
                firing = SupportFiring.objects.create(
                    rule=rule,
                    message=message,
                    conversation_id=message.conversation_id,
                    kind=kind,
                    created_at=now,
                )
        except IntegrityError:  # the same message delivered again: already answered
            return None
        from ...services.contact_identity import recipient_of
        from ...services.outbound import send_message

        try:
            firing.reply = send_message(
                account, recipient_of(contact), "text", text, reference=f"support-rule-{rule.pk}"
            )
        except (WacloudError, ValueError) as error:
            # Outside the window, opted out, ...: recorded as fired (no retry storm), not sent.
            logger.warning("support rule %s: reply to contact %s not sent: %s", rule.pk, contact.pk, error)
        else:
            firing.save(update_fields=["reply"])
    return firing


# -- escalation ------------------------------------------------------------------------------------


def _next_assignee(rule: SupportRule) -> Any:
    """The rule's ``escalate_to``, else the organization's agents and above in turn (by user id,
    after whoever got the organization's last escalation)."""
    if rule.escalate_to_id is not None:
        return rule.escalate_to
    eligible = [Role.AGENT, Role.MARKETER, Role.ADMIN]
    members = list(
        Membership.objects.filter(
            organization_id=rule.organization_id, role__in=eligible, user__is_active=True
        )
        .select_related("user")
        .order_by("user_id")
    )
    if not members:
        return None
    last = (
        Escalation.objects.filter(organization_id=rule.organization_id, assigned_to__isnull=False)
        .order_by("-created_at", "-pk")
        .values_list("assigned_to_id", flat=True)
        .first()
    )
    following = [member for member in members if last is not None and member.user_id > last]
    return (following or members)[0].user


def _escalate(
    rule: SupportRule, message: Message, account: BusinessAccount, condition: str
) -> SupportFiring | None:
    if message.conversation_id is None:
        return None
    with transaction.atomic():
        # Serialized per organization, so round robin hands out each turn once.
        Organization.objects.select_for_update().filter(pk=rule.organization_id).first()
        if Escalation.objects.filter(
            conversation_id=message.conversation_id, resolved_at__isnull=True
        ).exists():
            return None  # already flagged: a second "urgent" changes nothing
        try:
            with transaction.atomic():
                firing = SupportFiring.objects.create(
                    rule=rule, message=message, conversation_id=message.conversation_id,
                    kind=SupportFiring.Kind.ESCALATION,
                )  # fmt: skip
        except IntegrityError:
            return None
        escalation = Escalation.objects.create(
            organization_id=rule.organization_id, conversation_id=message.conversation_id, rule=rule,
            message=message, priority=Escalation.Priority.URGENT, reason=condition[:200],
            assigned_to=_next_assignee(rule),
        )  # fmt: skip
        audit.record(
            "conversation.escalate", organization=rule.organization, target=escalation, source="automation",
            changes={"priority": [None, escalation.priority], "reason": [None, escalation.reason],
                     "assigned_to": [None, escalation.assigned_to_id], "rule": [None, rule.pk]},
        )  # fmt: skip
        transaction.on_commit(partial(_announce, escalation.pk))
    return firing


def _announce(escalation_id: int) -> None:
    escalation = Escalation.objects.select_related("conversation", "rule", "message", "assigned_to").get(
        pk=escalation_id
    )
    try:
        signals.conversation_escalated.send(
            sender=Escalation, escalation=escalation, conversation=escalation.conversation,
            rule=escalation.rule,
            message=escalation.message, assigned_to=escalation.assigned_to,
            account=escalation.conversation.account,
        )  # fmt: skip
    except Exception:
        logger.exception("a conversation_escalated receiver failed (escalation %s)", escalation_id)
    if escalation.rule is not None and escalation.rule.webhook_url:
        if use_celery():
            from ... import tasks

            tasks.deliver_escalation_webhook.delay(escalation_id)
        else:
            deliver_escalation_webhook(escalation_id)


def escalation_payload(escalation: Escalation) -> dict[str, Any]:
    conversation = escalation.conversation
    return {
        "event": "conversation_escalated",
        "escalation": {
            "id": escalation.pk, "priority": escalation.priority, "reason": escalation.reason,
            "created_at": escalation.created_at.isoformat(),
            "assigned_to": escalation.assigned_to.get_username() if escalation.assigned_to else None,
        },
        "conversation": {"id": conversation.pk, "contact": conversation.contact.wa_id,
                         "account": conversation.account.phone_number_id},
        "message": (
            {"id": escalation.message.wamid, "text": escalation.message.text} if escalation.message else None
        ),
        "rule": escalation.rule_id,
    }  # fmt: skip


def sign_body(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver_escalation_webhook(escalation_id: int, *, attempts: int = WEBHOOK_ATTEMPTS) -> bool:
    """POST the escalation to its rule's webhook: JSON signed with HMAC-SHA256 of the body
    under the rule's secret (``X-Wacloud-Signature-256: sha256=<hex>``). Up to ``attempts``
    tries on network errors and 5xx; failures are logged, never raised."""
    escalation = (
        Escalation.objects.select_related("rule", "conversation__contact", "conversation__account",
                                          "message",
                                          "assigned_to")
        .filter(pk=escalation_id).first()
    )  # fmt: skip
    if escalation is None or escalation.rule is None or not escalation.rule.webhook_url:
        return False
    rule = escalation.rule
    body = json.dumps(escalation_payload(escalation), separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign_body(rule.webhook_secret, body),
               "User-Agent": "wacloud-escalation-webhook"}  # fmt: skip
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(rule.webhook_url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT) as response:
                if response.status < 300:
                    return True
        except urllib.error.HTTPError as error:
            if error.code < 500:
                logger.warning(
                    "escalation webhook %s refused (%s): not retried", rule.webhook_url, error.code
                )
                return False
            logger.warning(
                "escalation webhook %s failed (%s), attempt %s", rule.webhook_url, error.code, attempt
            )
        except (urllib.error.URLError, OSError) as error:
            logger.warning("escalation webhook %s failed (%s), attempt %s", rule.webhook_url, error, attempt)
        if attempt < attempts:
            time.sleep(WEBHOOK_BACKOFF * attempt)
    logger.error("escalation webhook %s gave up after %s attempts (escalation %s)", rule.webhook_url,
                 attempts,
                 escalation_id)  # fmt: skip
    return False
