"""The webhook endpoint Meta calls: the GET subscription handshake and signed POSTs.

POST, in order (docs/webhooks.md explains each answer):

1. size cap (``WEBHOOK_MAX_BODY_BYTES``) checked on Content-Length and while
   reading: 413, nothing stored;
2. ``X-Hub-Signature-256`` verified by the C++ core against the app secret of
   the account named by the URL, else by the payload (``metadata.phone_number_id``,
   then ``entry[].id`` as the WABA id), else ``WACLOUD["APP_SECRET"]``: 403 and
   nothing stored when it does not match;
3. the raw body stored in ``WebhookEvent`` keyed by its SHA-256 (a repeat is
   acknowledged and not stored twice); a signed body that is not a JSON object
   is stored as failed and answered 400;
4. 200 at once; processing runs after the commit, on Celery or inline.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from wacloud.errors import WebhookVerificationError
from wacloud.security import verify_signature, verify_subscription

from .. import signals
from ..conf import get_setting, webhook_max_body_bytes
from ..exceptions import DecryptionError, WebhookValidationFailure
from ..models import BusinessAccount, WebhookEvent
from ..services.webhooks import KEPT_HEADERS, record_webhook_event, schedule_processing_on_commit

logger = logging.getLogger("wacloud.webhook")

SIGNATURE_HEADER = "X-Hub-Signature-256"


class RequestBodyTooLarge(Exception):
    pass


def _text(body: str, status: int) -> HttpResponse:
    return HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")


@method_decorator(csrf_exempt, name="dispatch")
class WhatsAppWebhookView(View):
    """Meta's webhook. Subclasses may override :meth:`candidate_accounts` (routing)
    or :meth:`validate_request` (extra checks, e.g. an IP allow-list)."""

    http_method_names = ["get", "post"]

    # -- GET: subscription handshake ------------------------------------------------------------

    def get(self, request: HttpRequest, phone_number_id: str | None = None) -> HttpResponse:
        account = self.url_account(phone_number_id)
        mode = request.GET.get("hub.mode")
        token = request.GET.get("hub.verify_token")
        challenge = request.GET.get("hub.challenge")
        expected = self.expected_verify_tokens(account)
        error: WebhookVerificationError = WebhookVerificationError("no verify token is configured")
        for candidate in expected:
            try:
                return _text(verify_subscription(mode, token, challenge, candidate), 200)
            except WebhookVerificationError as exc:
                error = exc
        logger.warning("webhook subscription refused: %s", error)
        return _text(f"Forbidden: {error}", 403)

    def expected_verify_tokens(self, account: BusinessAccount | None) -> list[str]:
        """The account's verify token (per-account URL), else ``WACLOUD["VERIFY_TOKEN"]``
        and every account's own token (shared URL)."""
        configured = get_setting("VERIFY_TOKEN")
        if account is not None:
            return [token for token in (account.verify_token or configured,) if token]
        accounts = BusinessAccount.objects.exclude(verify_token="").values_list("verify_token", flat=True)
        return list(dict.fromkeys(token for token in (configured, *accounts) if token))

    # -- POST: events ---------------------------------------------------------------------------

    def post(self, request: HttpRequest, phone_number_id: str | None = None) -> HttpResponse:
        url_account = self.url_account(phone_number_id)
        try:
            body = self.read_body(request)
        except RequestBodyTooLarge as exc:
            return self.refuse(request, "body_too_large", exc, 413, url_account)

        payload, payload_error = self.load_payload(body)
        try:
            account = self.validate_request(request, body, payload, url_account)
        except WebhookValidationFailure as exc:
            return self.refuse(request, "invalid_signature", exc, 403, url_account)
        except (ImproperlyConfigured, DecryptionError) as exc:
            # Our configuration is broken, not the request: 500 makes Meta retry later.
            logger.error("webhook cannot be verified: %s", exc)
            self.send_error(request, "configuration_error", exc, None, url_account)
            return _text("Server configuration error", 500)

        headers = {name: request.headers.get(name, "") for name in KEPT_HEADERS}
        fields = self.change_fields(payload)
        event, created = record_webhook_event(
            body,
            headers=headers,
            account=account,
            signature_verified=True,
            fields=fields,
            error=f"Malformed webhook body: {payload_error}" if payload_error else "",
        )
        if payload_error:
            # Signed by Meta but unusable: kept (status failed) so nothing accepted is lost, and
            # answered 400 so the sender sees why. A repeat of the same body gets the same answer.
            if created:
                logger.error("webhook body %s is malformed: %s", event.body_sha256[:12], payload_error)
                self.send_error(request, "malformed_body", ValueError(payload_error), event, account)
            return _text(f"Malformed webhook body: {payload_error}", 400)
        if created:
            schedule_processing_on_commit(event.pk)
        else:
            logger.info("webhook body %s already received; acknowledged again", event.body_sha256[:12])
        return _text("OK", 200)

    def url_account(self, phone_number_id: str | None) -> BusinessAccount | None:
        if phone_number_id is None:
            return None
        account = BusinessAccount.objects.filter(phone_number_id=phone_number_id).first()
        if account is None:
            raise Http404(f"No WhatsApp account with phone number id {phone_number_id}")
        return account

    def read_body(self, request: HttpRequest) -> bytes:
        """The raw body, refusing to read more than the cap."""
        limit = webhook_max_body_bytes()
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            raise RequestBodyTooLarge(f"Content-Length {declared} exceeds {limit} bytes")
        body = request.read(limit + 1)
        if len(body) > limit:
            raise RequestBodyTooLarge(f"body exceeds {limit} bytes")
        return body

    @staticmethod
    def load_payload(body: bytes) -> tuple[dict[str, Any] | None, str]:
        """``(payload, "")`` or ``(None, reason)``. Only used to route and label the
        event; the C++ core does the real parsing during processing."""
        try:
            # Decoded explicitly: json.loads(bytes) would also accept UTF-16/32, which Meta never sends.
            payload = json.loads(body.decode("utf-8"))
        except UnicodeDecodeError:
            return None, "not UTF-8"
        except (ValueError, RecursionError) as exc:
            return None, f"not valid JSON ({exc})" if isinstance(exc, ValueError) else "nested too deeply"
        if not isinstance(payload, dict):
            return None, f"expected a JSON object, got {type(payload).__name__}"
        return payload, ""

    @staticmethod
    def _entries(payload: dict[str, Any] | None) -> list[dict[str, Any]]:
        entries = payload.get("entry") if payload else None
        return [entry for entry in entries if isinstance(entry, dict)] if isinstance(entries, list) else []

    def _changes(self, payload: dict[str, Any] | None) -> list[dict[str, Any]]:
        changes = []
        for entry in self._entries(payload):
            items = entry.get("changes")
            if isinstance(items, list):
                changes += [change for change in items if isinstance(change, dict)]
        return changes

    def change_fields(self, payload: dict[str, Any] | None) -> list[str]:
        return [str(change.get("field")) for change in self._changes(payload) if change.get("field")]

    def candidate_accounts(self, payload: dict[str, Any] | None) -> list[BusinessAccount]:
        """The accounts a payload names: by phone number id, else by WABA id."""
        phone_ids, waba_ids = set(), set()
        for change in self._changes(payload):
            value = change.get("value")
            metadata = value.get("metadata") if isinstance(value, dict) else None
            if isinstance(metadata, dict) and metadata.get("phone_number_id"):
                phone_ids.add(str(metadata["phone_number_id"]))
        for entry in self._entries(payload):
            if entry.get("id"):
                waba_ids.add(str(entry["id"]))
        if phone_ids:
            found = list(BusinessAccount.objects.filter(phone_number_id__in=phone_ids))
            if found:
                return found
        if waba_ids:
            return list(BusinessAccount.objects.filter(waba_id__in=waba_ids))
        return []

    def validate_request(
        self,
        request: HttpRequest,
        body: bytes,
        payload: dict[str, Any] | None,
        url_account: BusinessAccount | None,
    ) -> BusinessAccount | None:
        """Check the signature; return the account it proved (``None`` when only
        ``WACLOUD["APP_SECRET"]`` matched and the payload names no stored account).
        Raises :class:`WebhookValidationFailure`."""
        accounts = [url_account] if url_account is not None else self.candidate_accounts(payload)
        global_secret = get_setting("APP_SECRET") or ""
        candidates: list[tuple[str, BusinessAccount | None]] = []
        for account in accounts:
            secret = account.app_secret or global_secret
            if secret:
                candidates.append((secret, account))
        if not accounts and global_secret:
            candidates.append((global_secret, None))
        if not candidates:
            where = (
                f"account {url_account.phone_number_id}" if url_account else "the accounts this payload names"
            )
            raise WebhookValidationFailure(f'no app secret for {where} and WACLOUD["APP_SECRET"] is not set')
        header = request.headers.get(SIGNATURE_HEADER)
        if not header:
            raise WebhookValidationFailure(f"missing {SIGNATURE_HEADER} header")
        for secret, account in candidates:
            if verify_signature(secret, body, header):
                return account
        raise WebhookValidationFailure(f"{SIGNATURE_HEADER} does not match the body")

    def refuse(
        self,
        request: HttpRequest,
        reason: str,
        error: Exception,
        status: int,
        account: BusinessAccount | None,
    ) -> HttpResponse:
        logger.warning("webhook refused (%s, HTTP %s): %s", reason, status, error)
        self.send_error(request, reason, error, None, account)
        messages = {403: "Forbidden: invalid or missing signature", 413: "Request body too large"}
        return _text(messages[status], status)

    @staticmethod
    def send_error(
        request: HttpRequest,
        reason: str,
        error: Exception | None,
        webhook_event: WebhookEvent | None,
        account: BusinessAccount | None,
    ) -> None:
        responses = signals.webhook_error.send_robust(
            sender=WebhookEvent,
            reason=reason,
            error=error,
            request=request,
            webhook_event=webhook_event,
            event=None,
            account=account,
        )
        for receiver, result in responses:
            if isinstance(result, Exception):
                logger.error("webhook_error receiver %r failed", receiver, exc_info=result)
