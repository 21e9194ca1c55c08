"""The webhook endpoint Meta calls: the GET subscription handshake and signed POSTs.

POST, in order (docs/webhooks.md explains each answer):

1. size cap (``WEBHOOK_MAX_BODY_BYTES``) checked on Content-Length and while
   reading: 413, nothing stored;
2. ``X-Hub-Signature-256`` verified by the C++ core. The secret that verifies it
   is the body's one signer (services/webhook_auth.py): with a per-account URL
   (``webhook/<phone number id or WABA id>/``) only that account's secret counts;
   otherwise the secrets of the accounts the body names (ids read from the raw
   body by the C++ core, services/webhook_routing.py), then
   ``WACLOUD["APP_SECRET"]``. A body that names any account its signer does not
   speak for is refused whole: 403, nothing stored;
3. the raw body stored in ``WebhookEvent`` keyed by its SHA-256. A repeat is
   acknowledged and not stored twice, and is queued again while the stored one is
   still pending (or failed and retriable). A signed body that is not a JSON
   object is stored as failed and answered 400;
4. 200 at once; processing runs after the commit, on Celery or inline (with
   ``WACLOUD["WEBHOOK_BATCH"]``, in batches of stored events: services/webhook_batch.py).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from wacloud.errors import WebhookVerificationError
from wacloud.security import verify_subscription

from .. import correlation, signals
from ..conf import get_setting, webhook_max_body_bytes
from ..exceptions import DecryptionError, WebhookValidationFailure
from ..log_privacy import get_logger
from ..models import BusinessAccount, WebhookEvent
from ..services.rows import rows_matching_any
from ..services.webhook_auth import SIGNATURE_HEADER, Signer, authenticate
from ..services.webhook_routing import BodyRouting, route_body
from ..services.webhooks import (
    KEPT_HEADERS,
    record_webhook_event,
    requeue_if_unfinished,
    schedule_processing_on_commit,
    sweep_after_inline_request,
)

logger = get_logger("wacloud.webhook")


class RequestBodyTooLarge(Exception):
    pass


def _text(body: str, status: int) -> HttpResponse:
    return HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")


@method_decorator(csrf_exempt, name="dispatch")
class WhatsAppWebhookView(View):
    """Meta's webhook. Subclasses may override :meth:`routing` (which accounts a
    body names) or :meth:`validate_request` (extra checks, e.g. an IP allow-list)."""

    http_method_names = ["get", "post"]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # The caller's X-Request-Id names this request's log records until the event is stored.
        header = request.headers.get(correlation.REQUEST_ID_HEADER)
        with correlation.use(correlation.usable_request_id(header)):
            return super().dispatch(request, *args, **kwargs)

    # -- GET: subscription handshake ------------------------------------------------------------

    def get(self, request: HttpRequest, phone_number_id: str | None = None) -> HttpResponse:
        accounts = self.url_accounts(phone_number_id)
        mode = request.GET.get("hub.mode")
        token = request.GET.get("hub.verify_token")
        challenge = request.GET.get("hub.challenge")
        expected = self.expected_verify_tokens(accounts)
        error: WebhookVerificationError = WebhookVerificationError("no verify token is configured")
        for candidate in expected:
            try:
                return _text(verify_subscription(mode, token, challenge, candidate), 200)
            except WebhookVerificationError as exc:
                error = exc
        logger.warning("webhook subscription refused: %s", error)
        return _text(f"Forbidden: {error}", 403)

    def expected_verify_tokens(self, accounts: list[BusinessAccount] | None) -> list[str]:
        """The URL's accounts' verify tokens (else ``WACLOUD["VERIFY_TOKEN"]``), or, on
        the shared URL, ``WACLOUD["VERIFY_TOKEN"]`` and every account's own token."""
        configured = get_setting("VERIFY_TOKEN")
        if accounts is None:
            accounts = list(BusinessAccount.objects.exclude(verify_token_encrypted=""))
            tokens = [configured, *self._verify_tokens(accounts)]
        else:
            tokens = [token or configured for token in self._verify_tokens(accounts, keep_empty=True)]
        return list(dict.fromkeys(token for token in tokens if token))

    @staticmethod
    def _verify_tokens(accounts: list[BusinessAccount], keep_empty: bool = False) -> list[str]:
        tokens = []
        for account in accounts:
            try:
                token = account.verify_token
            except DecryptionError as exc:  # a wrong key must not lock out the other accounts
                logger.error("verify token of account %s cannot be decrypted: %s", account.pk, exc)
                continue
            if token or keep_empty:
                tokens.append(token)
        return tokens

    # -- POST: events ---------------------------------------------------------------------------

    def post(self, request: HttpRequest, phone_number_id: str | None = None) -> HttpResponse:
        url_accounts = self.url_accounts(phone_number_id)
        url_account = url_accounts[0] if url_accounts else None
        try:
            body = self.read_body(request)
        except RequestBodyTooLarge as exc:
            return self.refuse(request, "body_too_large", exc, 413, url_account)

        routed = self.routing(body)
        payload_error = routed.error
        try:
            signer = self.validate_request(request, body, routed, url_accounts)
        except WebhookValidationFailure as exc:
            return self.refuse(request, "invalid_signature", exc, 403, url_account)
        except (ImproperlyConfigured, DecryptionError) as exc:
            # Our configuration is broken, not the request: 500 makes Meta retry later.
            logger.error("webhook cannot be verified: %s", exc)
            self.send_error(request, "configuration_error", exc, None, url_account)
            return _text("Server configuration error", 500)

        headers = {name: request.headers.get(name, "") for name in KEPT_HEADERS}
        event, created = record_webhook_event(
            body,
            headers=headers,
            account=signer.account,
            signature_verified=True,
            fields=routed.fields,
            error=f"Malformed webhook body: {payload_error}" if payload_error else "",
        )
        correlation.replace(correlation.for_webhook_event(event))
        if payload_error:
            # Signed by Meta but unusable: kept (status failed) so nothing accepted is lost, and
            # answered 400 so the sender sees why. A repeat of the same body gets the same answer.
            if created:
                logger.error("webhook body %s is malformed: %s", event.body_sha256[:12], payload_error)
                self.send_error(request, "malformed_body", ValueError(payload_error), event, signer.account)
            return _text(f"Malformed webhook body: {payload_error}", 400)
        if created:
            logger.debug("webhook body %s stored as event %s", event.body_sha256[:12], event.pk)
            schedule_processing_on_commit(event.pk)
        elif requeue_if_unfinished(event):
            logger.info("webhook body %s received again while %s; queued again", event.body_sha256[:12],
                        event.status)  # fmt: skip
        else:
            logger.info("webhook body %s already received; acknowledged again", event.body_sha256[:12])
        sweep_after_inline_request()
        return _text("OK", 200)

    def url_accounts(self, identifier: str | None) -> list[BusinessAccount] | None:
        """The accounts of ``webhook/<identifier>/``: a phone number id, else a WABA id
        (all the numbers of that WABA). ``None`` for the shared URL."""
        if identifier is None:
            return None
        accounts = rows_matching_any(BusinessAccount, phone_number_id=[identifier])
        if not accounts:
            accounts = rows_matching_any(BusinessAccount, waba_id=[identifier])
        if not accounts:
            raise Http404(f"No WhatsApp account with phone number id or WABA id {identifier}")
        return accounts

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

    def routing(self, body: bytes) -> BodyRouting:
        """The WABA and phone number ids the body names, change by change, and its
        changes' fields; read by the C++ core, the body is parsed only during processing."""
        return route_body(body)

    def validate_request(
        self,
        request: HttpRequest,
        body: bytes,
        routed: BodyRouting,
        url_accounts: list[BusinessAccount] | None,
    ) -> Signer:
        """Check the signature and that its signer speaks for every account the body
        names; return the signer. Raises :class:`WebhookValidationFailure`."""
        return authenticate(
            body,
            request.headers.get(SIGNATURE_HEADER),
            url_accounts=url_accounts,
            changes=routed.changes,
        )

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
