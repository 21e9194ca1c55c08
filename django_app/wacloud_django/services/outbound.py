"""Outbound messages: the checks, the outbox row, and the idempotent send step.

``send_message`` checks everything it can before anything is stored (number,
content, opt-out, the 24-hour window, template parameters), then writes the
``Message`` row as ``queued`` and hands it to :func:`deliver_message` (Celery, or
inline after the commit). ``deliver_message`` claims the row, sends once, and
records ``sent`` with the wamid or ``failed`` with Meta's error. A send whose
outcome is unknown (no answer after the request left) is never repeated
automatically: the row says so and waits for a human (docs/sending.md).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from wacloud import BusinessScopedUser
from wacloud import messages as wa_messages
from wacloud.errors import DeliveryUnknown, GraphAPIError, InvalidParameter, WacloudError

from .. import correlation
from ..conf import get_setting, use_celery
from ..exceptions import AccountNotConfigured, AccountNotFound, DecryptionError, SettingError
from ..log_privacy import get_logger
from ..models import SERVICE_WINDOW, BusinessAccount, Contact, Message, RateLimitUsage
from . import audit
from .accounts import check_secrets_readable
from .circuit import check_circuit, record_outcome
from .clients import client_for
from .contact_identity import Identity, contact_for
from .inbound import open_conversation
from .outbound_media import (
    MEDIA_TYPES,
    Upload,
    checked_upload,
    media_spec,
    store_upload,
    upload_pending_media,
)
from .outbound_results import (  # noqa: F401  (re-exported: callers import the refusals from here)
    ConsentRequired,
    ContactOptedOut,
    DeliveryResult,
    MessageRefused,
    ServiceWindowClosed,
)
from .statuses import apply_pending_statuses, apply_status

logger = get_logger("wacloud.outbound")

#: ``message_type`` -> the :mod:`wacloud.messages` class whose fields ``content`` holds.
MESSAGE_CLASSES: dict[str, type[wa_messages.Message]] = {
    "text": wa_messages.Text,
    "image": wa_messages.Image,
    "video": wa_messages.Video,
    "audio": wa_messages.Audio,
    "document": wa_messages.Document,
    "sticker": wa_messages.Sticker,
    "location": wa_messages.Location,
    "contacts": wa_messages.Contacts,
    "reaction": wa_messages.Reaction,
    "template": wa_messages.Template,
    "buttons": wa_messages.Buttons,
    "list": wa_messages.ListMessage,
    "cta_url": wa_messages.CtaUrl,
    "flow": wa_messages.Flow,
    "product": wa_messages.Product,
    "product_list": wa_messages.ProductList,
}
#: Allowed outside the 24-hour customer service window.
WINDOW_EXEMPT_TYPES = frozenset({"template"})
#: A claim older than this belongs to a sender that died with its request in flight.
SENDING_LEASE = timedelta(minutes=10)
MAX_RETRY_DELAY = 15 * 60.0
#: A queued row nobody claimed for this long lost its task (broker outage): schedule it again.
STALE_QUEUED_AFTER = timedelta(minutes=5)
#: A row deferred by an open circuit is looked at again within this, well inside STALE_QUEUED_AFTER.
MAX_DEFERRAL = 120.0


# -- send_message ------------------------------------------------------------------------------------


def send_message(
    account: BusinessAccount | str,
    to: str | BusinessScopedUser,
    message_type: str,
    content: Mapping[str, Any] | str | None = None,
    template_name: str | None = None,
    template_language: str | None = None,
    template_components: list[Mapping[str, Any]] | None = None,
    media: Any = None,
    reply_to: Message | str | None = None,
    *,
    enqueue: bool = True,
    reference: str = "",
    purpose: str = "whatsapp_messaging",
) -> Message:
    """Check, store as ``queued`` and send one message; returns the ``Message`` row.

    ``to`` is a phone number, or a :class:`wacloud.BusinessScopedUser` for a user known by
    business-scoped user id (a contact with a number is always sent to by number).
    ``content`` holds the fields of the :mod:`wacloud.messages` class for
    ``message_type`` (a plain string is the body of a text message). Templates
    take ``template_name``/``template_language``/``template_components``; media
    types take ``media``: a media id, an ``https://`` link, a file path, bytes,
    a Django ``File``, or a dict with ``id``/``link``/``path``/``data`` plus
    ``filename`` and ``mime_type``. ``reply_to`` quotes a message (row or wamid).
    ``reference`` is the caller's own id for the message (e.g. a ticket), kept on the row.
    ``purpose`` is the consent the message needs (``whatsapp_messaging`` or
    ``marketing``; a MARKETING template always needs ``marketing``), docs/automation.md.

    With ``enqueue`` the send runs on Celery or inline after the commit; without
    it, now, and the returned row shows the result. Raises before storing:
    :class:`wacloud.InvalidPhoneNumber`, :class:`wacloud.InvalidParameter`,
    :class:`wacloud.MediaRejected`, :class:`wacloud.TemplateError`,
    :class:`ConsentRequired` (:class:`ContactOptedOut`), :class:`ServiceWindowClosed`,
    :class:`AccountNotConfigured`."""
    from ..automation.services import consent  # it builds on this module

    consent.check_purpose(purpose)
    account = _resolve_account(account)
    if message_type not in MESSAGE_CLASSES:
        raise InvalidParameter(
            f"message_type: {message_type!r} is not one of {', '.join(sorted(MESSAGE_CLASSES))}", code=100
        )
    to = normalize_recipient(to)
    identity = Identity(user_id=to.user_id) if isinstance(to, BusinessScopedUser) else Identity(wa_id=to)
    fields, upload = _message_fields(message_type, content, media, template_name, template_language,
                                     template_components)  # fmt: skip
    reply_to_wamid = reply_to.wamid if isinstance(reply_to, Message) else (reply_to or "")
    # The C++ payload builder enforces Meta's limits now, so a bad message never enters the outbox.
    probe = dict(fields, media_id="0") if upload is not None else fields
    build_message(message_type, probe).to_payload(to, reply_to_wamid or None)
    # Stored as the message class spells its fields (tuples as dicts), so they survive JSON.
    fields = build_message(message_type, fields).fields()
    if message_type == "template":
        from .templates import validate_template_parameters

        template = validate_template_parameters(
            account, fields["name"], fields["language"], fields.get("components")
        )
        purpose = consent.purpose_for_template(template, purpose)

    # Before the outbox transaction, so a refusal's recorded reason is not rolled back with it.
    consent.check_may_send(account, identity.wa_id, purpose, user_id=identity.user_id)

    with transaction.atomic():
        contact, _ = contact_for(account, identity)
        conversation = open_conversation(account, contact)
        _check_may_send(contact, conversation, message_type)
        message = Message.objects.create(
            account=account,
            conversation=conversation,
            contact=contact,
            direction=Message.Direction.OUTBOUND,
            type=message_type,
            text=_display_text(message_type, fields),
            content=fields,
            status=Message.Status.QUEUED,
            # Only the account's own messages can be quoted (a wamid of another tenant's is not).
            reply_to=Message.objects.filter(account=account, wamid=reply_to_wamid).first()
            if reply_to_wamid
            else None,
            reply_to_wamid=reply_to_wamid,
            reference=str(reference or "")[:64],
        )
        if upload is not None:
            store_upload(account, message, upload, fields)
        # By reference: the row is the record of what was sent, the entry says who sent it.
        audit.record("message.send", organization=account.organization, target=message)
        if enqueue:
            transaction.on_commit(lambda: schedule_delivery(message.pk))
    if not enqueue:
        result = deliver_message(message.pk)
        message.refresh_from_db()
        message.delivery_error = result.exception  # type: ignore[attr-defined]  # read by the API
    return message


def _resolve_account(account: BusinessAccount | str) -> BusinessAccount:
    if isinstance(account, str):
        found = BusinessAccount.objects.filter(phone_number_id=account).first()
        if found is None:
            raise AccountNotFound(f"no WhatsApp account with phone number id {account!r}")
        account = found
    if not account.is_active:
        raise AccountNotConfigured(f"account {account.phone_number_id} is inactive; activate it to send")
    if not account.has_access_token:
        raise AccountNotConfigured(f"account {account.phone_number_id} has no access token")
    # A wrong ENCRYPTION_KEY is reported now, before a row is stored that could never be sent.
    check_secrets_readable(account)
    return account


def normalize_recipient(to: str | BusinessScopedUser) -> Any:
    """The wa_id for ``to``, reading numbers written without a country code with
    ``WACLOUD["DEFAULT_COUNTRY_CODE"]`` (services/recipients.py); a business-scoped user as is."""
    from .recipients import recipient_wa_id  # it builds on this module

    return to if isinstance(to, BusinessScopedUser) else recipient_wa_id(to)


def _check_may_send(contact: Contact, conversation: Any, message_type: str) -> None:
    # Consent (opt-out included) is checked before this, by automation.services.consent.
    if message_type in WINDOW_EXEMPT_TYPES:
        return
    now = timezone.now()
    if conversation is not None and conversation.is_window_open(now):
        return
    last = contact.last_inbound_at
    if last is not None and now < last + SERVICE_WINDOW:
        return
    when = f"last wrote at {last:%Y-%m-%d %H:%M} UTC" if last else "has never written"
    raise ServiceWindowClosed(
        f"{contact.wa_id or contact.user_id} {when}: outside the 24-hour customer service window only "
        f"templates may be sent (Meta would refuse a {message_type} message with 131047)",
        last_inbound_at=last,
    )


def build_message(message_type: str, fields: Mapping[str, Any]) -> wa_messages.Message:
    """The :mod:`wacloud.messages` object for stored ``content``."""
    try:
        return MESSAGE_CLASSES[message_type](**fields)
    except TypeError as error:
        raise InvalidParameter(f"{message_type} message: {error}", code=100) from None


def _message_fields(
    message_type: str, content: Any, media: Any, name: Any, language: Any, components: Any
) -> tuple[dict[str, Any], Upload | None]:
    if isinstance(content, str):
        if message_type != "text":
            raise InvalidParameter("content: a plain string is only the body of a text message", code=100)
        content = {"body": content}
    if content is not None and not isinstance(content, Mapping):
        raise InvalidParameter(
            f"content: must be a dict of message fields, not {type(content).__name__}", code=100
        )
    fields = dict(content or {})
    if message_type == "template":
        fields.setdefault("name", name)
        fields.setdefault("language", language)
        if components is not None:
            fields["components"] = list(components)
        for key in ("name", "language"):
            if not isinstance(fields.get(key), str) or not fields[key]:
                raise InvalidParameter(f"template_{key}: required for a template message", code=100)
    if message_type not in MEDIA_TYPES:
        if media is not None:
            raise InvalidParameter(f"media: a {message_type} message takes no media", code=100)
        return fields, None
    upload = None
    if media is not None:
        spec = media_spec(media)
        if "id" in spec:
            fields["media_id"] = spec["id"]
        elif "link" in spec:
            fields["link"] = spec["link"]
        else:
            upload = checked_upload(message_type, spec)
            if message_type == "document" and not fields.get("filename"):
                fields["filename"] = upload.filename
    if upload is None and not (fields.get("media_id") or fields.get("link")):
        raise InvalidParameter(
            f"media: a {message_type} message needs a media id, a link or a file", code=100
        )
    return fields, upload


def _display_text(message_type: str, fields: Mapping[str, Any]) -> str:
    if message_type == "template":
        return f"[template {fields.get('name')} ({fields.get('language')})]"
    if message_type == "product" and not fields.get("body"):
        return f"[product {fields.get('product_retailer_id')}]"
    for key in ("body", "caption", "emoji", "name", "filename", "link"):
        if isinstance(fields.get(key), str) and fields[key]:
            return fields[key]
    return ""


# -- the send step ----------------------------------------------------------------------------------


def schedule_delivery(message_id: int) -> None:
    """Send on Celery, or inline. Never raises: the row is stored, so a broker
    outage leaves it queued for :func:`retry_failed_messages` to pick up."""
    try:
        if use_celery():
            from ..tasks import send_whatsapp_message

            send_whatsapp_message.delay(message_id)
            return
    except Exception:
        logger.exception("could not queue outbound message %s; it stays queued", message_id)
        return
    try:
        deliver_message(message_id)
    except Exception:
        logger.exception("outbound message %s failed inline", message_id)


@correlation.scoped(correlation.message_id)
def deliver_message(message_id: int, *, can_retry: bool = False) -> DeliveryResult:
    """Send one queued message, at most once.

    The row is claimed (``sending_since``) in its own transaction before the
    request, so a duplicate task waits on the row lock and then sees the claim,
    and a sender that dies mid-request leaves a claim that marks the message
    ``unknown`` rather than resent. With ``can_retry`` (the Celery task), a
    retriable error keeps the row queued and returns ``retry`` with the delay."""
    now = timezone.now()
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(pk=message_id).first()
        if message is None:
            logger.warning("outbound message %s no longer exists; nothing sent", message_id)
            return DeliveryResult(message_id, "skipped", "")
        if message.direction != Message.Direction.OUTBOUND or message.status != Message.Status.QUEUED:
            return DeliveryResult(message_id, "skipped", message.status)
        if message.contact_id is None:
            error = InvalidParameter("to: the message's contact was deleted; nothing to send to", code=100)
            return _finish_failed(message, error, Message.SendFailure.PERMANENT)
        if message.sending_since is not None:
            if now - message.sending_since < SENDING_LEASE:
                return DeliveryResult(message_id, "in_progress", message.status)
            if message.handed_off_at is not None and message.handed_off_at >= message.sending_since:
                handed = f"{message.handed_off_at:%Y-%m-%d %H:%M:%S}"
                error = DeliveryUnknown(
                    f"a sender handed this message to the network at {handed} UTC and never recorded "
                    "an answer; it may have reached Meta, so it was not resent"
                )
                return _finish_failed(message, error, Message.SendFailure.UNKNOWN)
            # The sender died before its request left (waiting for the rate limiter, uploading,
            # building the payload): nothing reached Meta, so this claim simply takes over.
            logger.warning(
                "outbound message %s: the sender claimed at %s died before sending; sending now",
                message_id, message.sending_since,
            )  # fmt: skip
        account = BusinessAccount.objects.get(pk=message.account_id)
        # Meta keeps failing for this account: no attempt is made (or counted) until the probe is due.
        permit = check_circuit(account)
        if not permit.allowed:
            return _defer(message, permit.retry_in)
        message.sending_since = now
        message.send_attempts += 1
        message.save(update_fields=["sending_since", "send_attempts", "updated_at"])
    handed_off = False
    try:
        client = client_for(account)
        upload_pending_media(client, message)
        # By number when it is known, else by business-scoped user id.
        wa_id, user_id = Contact.objects.values_list("wa_id", "user_id").get(pk=message.contact_id)
        recipient = wa_id or BusinessScopedUser(user_id)
        payload = build_message(message.type, message.content)
        # Committed before the request: from here on a lost answer means "maybe sent".
        Message.objects.filter(pk=message.pk).update(handed_off_at=timezone.now())
        handed_off = True
        result = client.send(recipient, payload, reply_to=message.reply_to_wamid or None)
    except DeliveryUnknown as error:
        record_outcome(account, error)
        return _finish_failed(message, error, Message.SendFailure.UNKNOWN)
    except GraphAPIError as error:
        record_outcome(account, error)
        if not error.retriable:
            return _finish_failed(message, error, Message.SendFailure.PERMANENT)
        return _finish_retriable(message, error, can_retry, probe=permit.probe)
    except (AccountNotConfigured, SettingError, DecryptionError) as error:
        # Configuration, not the message: nothing left this process, and a retry after the
        # configuration (a token, ENCRYPTION_KEY) is fixed is safe.
        return _finish_failed(message, _configuration_error(error), Message.SendFailure.RETRIABLE)
    except (WacloudError, ValueError, OSError) as error:
        return _finish_failed(message, error, Message.SendFailure.PERMANENT)
    except Exception as error:
        if isinstance(error, DatabaseError) and not handed_off:
            return _release_claim(message, error)
        # An unexpected failure around the request: it may have left, so never resend it blindly.
        logger.exception("outbound message %s: unexpected error while sending", message_id)
        return _finish_failed(message, error, Message.SendFailure.UNKNOWN)
    record_outcome(account, None)
    return _finish_sent(message, result.message_id)


def _configuration_error(error: Exception) -> Exception:
    if isinstance(error, DecryptionError):
        return SettingError(
            "ENCRYPTION_KEY",
            f'the account\'s access token cannot be decrypted ({error}); fix WACLOUD["ENCRYPTION_KEY"] '
            "(or add the old key to ENCRYPTION_KEY_FALLBACKS), then retry the message",
        )
    return error


def _finish_sent(message: Message, wamid: str) -> DeliveryResult:
    with transaction.atomic():
        locked = Message.objects.select_for_update().select_related("account").get(pk=message.pk)
        locked.wamid = wamid
        locked.sending_since = None
        locked.failure_kind = ""
        locked.error_code, locked.error_title, locked.error_message = None, "", ""
        try:
            with transaction.atomic():
                locked.save(update_fields=[
                    "wamid", "sending_since", "failure_kind", "error_code", "error_title", "error_message",
                    "updated_at",
                ])  # fmt: skip
        except IntegrityError:
            # Another row holds this wamid (an echo stored first): the send happened; say so.
            logger.error("outbound message %s: wamid %s is already stored on another row", locked.pk, wamid)
            return _finish_failed(locked, DeliveryUnknown(f"sent as {wamid}, stored on another row"),
                                  Message.SendFailure.UNKNOWN, locked_already=True)  # fmt: skip
        logger.info("outbound message %s sent as %s", locked.pk, wamid)
        apply_status(locked, Message.Status.SENT, timestamp=timezone.now())
        apply_pending_statuses(locked)
        _count_usage(locked.account_id)
    return DeliveryResult(locked.pk, "sent", locked.status)


def _finish_retriable(
    message: Message, error: GraphAPIError, can_retry: bool, *, probe: bool = False
) -> DeliveryResult:
    attempts = message.send_attempts
    max_attempts = int(get_setting("SEND_MAX_ATTEMPTS", 5))
    # A failed probe spoke for the whole account, not for this message: it waits with the others.
    if not can_retry or (attempts >= max_attempts and not probe):
        return _finish_failed(message, error, Message.SendFailure.RETRIABLE)
    base = float(get_setting("TASK_RETRY_BACKOFF_SECONDS") or 1)
    delay = min(base * 2 ** (attempts - 1), MAX_RETRY_DELAY)
    if error.retry_after:
        delay = max(delay, min(float(error.retry_after), MAX_RETRY_DELAY))
    Message.objects.filter(pk=message.pk).update(
        sending_since=None,
        error_code=error.code or None,
        error_title=type(error).__name__,
        error_message=str(error)[:2000],
        updated_at=timezone.now(),
    )
    logger.info(
        "outbound message %s: %r, retry %s/%s in %.1fs", message.pk, error, attempts, max_attempts, delay
    )
    return DeliveryResult(message.pk, "retry", Message.Status.QUEUED, retry_in=delay, error=str(error))


def _release_claim(message: Message, error: Exception) -> DeliveryResult:
    """The database failed before the request left (a lock, a lost connection): nothing
    reached Meta, so the row goes back to the queue for the next sender. If even that
    write fails, the claim's lease runs out and the row is sent then (never twice: its
    ``handed_off_at`` is still empty)."""
    logger.warning("outbound message %s: the database failed before sending (%s); queued again",
                   message.pk, error)  # fmt: skip
    try:
        Message.objects.filter(pk=message.pk, status=Message.Status.QUEUED).update(
            sending_since=None, updated_at=timezone.now()
        )
    except DatabaseError:
        logger.warning("outbound message %s: left to its lease", message.pk)
    delay = float(get_setting("TASK_RETRY_BACKOFF_SECONDS") or 1)
    return DeliveryResult(message.pk, "retry", Message.Status.QUEUED, retry_in=delay, error=str(error))


def _defer(message: Message, retry_in: float) -> DeliveryResult:
    """Leave the row queued, unclaimed, while the account's circuit is open. ``updated_at``
    is touched so the stale-row sweep leaves it to its own retry; the delay is spread a
    little, so the deferred rows of an account do not all wake at the same instant."""
    delay = min(retry_in + random.uniform(0, max(1.0, 0.1 * retry_in)), MAX_DEFERRAL)
    Message.objects.filter(pk=message.pk).update(updated_at=timezone.now())
    logger.info("outbound message %s: the account's circuit is open; next try in %.1fs", message.pk, delay)
    return DeliveryResult(message.pk, "deferred", Message.Status.QUEUED, retry_in=delay)


def _finish_failed(
    message: Message, error: Exception, kind: str, *, locked_already: bool = False
) -> DeliveryResult:
    code = getattr(error, "code", None) or None
    detail = {"code": code, "title": type(error).__name__, "message": str(error)[:2000]}
    with transaction.atomic():
        locked = message if locked_already else Message.objects.select_for_update().get(pk=message.pk)
        locked.sending_since = None
        locked.failure_kind = kind
        locked.save(update_fields=["sending_since", "failure_kind", "updated_at"])
        apply_status(locked, Message.Status.FAILED, timestamp=timezone.now(), errors=[detail])
    log = logger.warning if kind == Message.SendFailure.UNKNOWN else logger.info
    log("outbound message %s failed (%s): %r", message.pk, kind, error)
    return DeliveryResult(message.pk, "unknown" if kind == Message.SendFailure.UNKNOWN else "failed",
                          locked.status, error=str(error), exception=error)  # fmt: skip


def _count_usage(account_id: int) -> None:
    """One more send in this hour's window (the monitor reports it against the limit)."""
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    usage, created = RateLimitUsage.objects.get_or_create(
        account_id=account_id, window=RateLimitUsage.Window.HOUR, window_start=hour, defaults={"count": 1}
    )
    if not created:
        RateLimitUsage.objects.filter(pk=usage.pk).update(count=F("count") + 1)


def retry_failed_messages(
    message_ids: list[int] | None = None, *, include_unknown: bool = False, limit: int = 500
) -> dict[str, int]:
    """Queue again the messages whose last failure was retriable (nothing reached
    Meta), and reschedule rows left queued by a lost task. ``include_unknown``
    (a human's decision, never automatic) also resends messages whose delivery
    is unknown. Returns counts: ``requeued``, ``rescheduled``, ``not_retriable``."""
    kinds = [Message.SendFailure.RETRIABLE] + ([Message.SendFailure.UNKNOWN] if include_unknown else [])
    failed = Message.objects.filter(
        direction=Message.Direction.OUTBOUND, status=Message.Status.FAILED, wamid__isnull=True
    )
    if message_ids is not None:
        failed = failed.filter(pk__in=message_ids)
    retriable = list(failed.filter(failure_kind__in=kinds).values_list("pk", flat=True)[:limit])
    requeued = []
    for pk in retriable:
        # The status filter makes the reset race-free: two sweeps cannot both requeue one row.
        if Message.objects.filter(pk=pk, status=Message.Status.FAILED).update(
            status=Message.Status.QUEUED, failure_kind="", failed_at=None, updated_at=timezone.now()
        ):
            requeued.append(pk)
    stale = Message.objects.filter(direction=Message.Direction.OUTBOUND, status=Message.Status.QUEUED)
    if message_ids is not None:
        stale = stale.filter(pk__in=message_ids)
    else:
        stale = stale.filter(updated_at__lt=timezone.now() - STALE_QUEUED_AFTER)
    rescheduled = [pk for pk in stale.values_list("pk", flat=True)[:limit] if pk not in requeued]
    for pk in [*requeued, *rescheduled]:
        schedule_delivery(pk)
    not_retriable = 0 if message_ids is None else len(message_ids) - len(requeued) - len(rescheduled)
    return {"requeued": len(requeued), "rescheduled": len(rescheduled), "not_retriable": not_retriable}
