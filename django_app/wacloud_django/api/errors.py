"""Every API error in one shape (seed 000):
``{"success": false, "error": "...", "error_code": "...", "details": {...}}``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

from wacloud.errors import GraphAPIError, InvalidPhoneNumber, MediaRejected, RateLimited, WacloudError

from ..exceptions import AccountNotConfigured, AccountNotFound
from ..log_privacy import get_logger
from ..services.outbound import ConsentRequired, ContactOptedOut, ServiceWindowClosed
from ..services.tenancy import OrganizationRequired

logger = get_logger("wacloud.api")


class ApiError(exceptions.APIException):
    """An error with our own code: ``ApiError(400, "INVALID_BODY", "why", {"field": "..."})``."""

    def __init__(self, status_code: int, code: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.status_code, self.error_code, self.details = status_code, code, details or {}


_DRF_CODES: list[tuple[type[Exception], str]] = [
    (exceptions.ValidationError, "VALIDATION_ERROR"),
    (exceptions.ParseError, "INVALID_JSON"),
    (exceptions.NotAuthenticated, "AUTHENTICATION_REQUIRED"),
    (exceptions.AuthenticationFailed, "AUTHENTICATION_FAILED"),
    (exceptions.PermissionDenied, "PERMISSION_DENIED"),
    (exceptions.NotFound, "NOT_FOUND"),
    (exceptions.MethodNotAllowed, "METHOD_NOT_ALLOWED"),
    (exceptions.UnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE"),
    (exceptions.Throttled, "RATE_LIMITED"),
]
#: Our typed errors: (class, HTTP status, error_code).
_WACLOUD_CODES: list[tuple[type[Exception], int, str]] = [
    (InvalidPhoneNumber, 400, "INVALID_PHONE_NUMBER"),
    (ServiceWindowClosed, 400, "SERVICE_WINDOW_CLOSED"),
    (ContactOptedOut, 400, "CONTACT_OPTED_OUT"),  # a ConsentRequired: keep it before that one
    (ConsentRequired, 400, "CONSENT_REQUIRED"),
    (MediaRejected, 400, "MEDIA_REJECTED"),
    (AccountNotFound, 404, "NOT_FOUND"),
    (AccountNotConfigured, 400, "ACCOUNT_NOT_CONFIGURED"),
    (OrganizationRequired, 400, "ORGANIZATION_REQUIRED"),
]


def error_response(
    status_code: int, code: str, message: str, details: dict[str, Any] | None = None, **headers: str
) -> Response:
    body = {"success": False, "error": message, "error_code": code, "details": details or {}}
    response = Response(body, status=status_code)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _validation_details(detail: Any) -> dict[str, Any]:
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    return {"non_field_errors": _flatten(detail)}


def _flatten(value: Any) -> Any:
    if isinstance(value, list) and len(value) == 1 and not isinstance(value[0], (dict, list)):
        return str(value[0])
    if isinstance(value, dict):
        return {key: _flatten(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_flatten(item) for item in value]
    return str(value)


def handle_exception(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's exception handler for every wacloud API view."""
    if isinstance(exc, ApiError):
        return error_response(exc.status_code, exc.error_code, str(exc.detail), exc.details)
    if isinstance(exc, Http404):
        return error_response(404, "NOT_FOUND", "Not found.")
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, exceptions.APIException):
        code = next((code for cls, code in _DRF_CODES if isinstance(exc, cls)), "ERROR")
        headers = {}
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            headers["Retry_After"] = str(int(exc.wait + 0.999))
        if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
            authenticator = (
                context["request"].authenticators[0] if context["request"].authenticators else None
            )
            if authenticator is not None:
                headers["WWW_Authenticate"] = authenticator.authenticate_header(context["request"])
        if isinstance(exc, exceptions.ValidationError):
            return error_response(400, code, "The request is not valid.", _validation_details(exc.detail))
        return error_response(exc.status_code, code, str(exc.detail), {}, **headers)
    if isinstance(exc, GraphAPIError):
        return _graph_error(exc)
    for cls, status_code, code in _WACLOUD_CODES:
        if isinstance(exc, cls):
            return error_response(status_code, code, str(exc), getattr(exc, "api_details", None))
    if isinstance(exc, WacloudError) and isinstance(exc, ValueError):
        return error_response(400, "INVALID_PARAMETER", str(exc))
    logger.exception("API error", exc_info=exc)
    return error_response(500, "INTERNAL_ERROR", "Internal server error.")


def _graph_error(exc: GraphAPIError) -> Response:
    """Meta's error, with its code and fbtrace_id (the client never puts the token in them)."""
    details = {
        "code": exc.code,
        "subcode": exc.subcode,
        "type": type(exc).__name__,
        "fbtrace_id": exc.fbtrace_id,
        "retriable": exc.retriable,
    }
    for name in ("component", "index", "card"):  # where a template send does not fit its template
        if getattr(exc, name, None) not in (None, ""):
            details[name] = getattr(exc, name)
    if isinstance(exc, RateLimited):
        headers = {"Retry_After": str(int((exc.retry_after or 60) + 0.999))}
        return error_response(429, "WHATSAPP_RATE_LIMITED", str(exc), details, **headers)
    if not exc.http_status and not exc.retriable:
        # Raised by our own checks before anything reached Meta (the code is the one Meta would
        # answer): the request is at fault, not the upstream.
        code = "INVALID_PARAMETER" if isinstance(exc, ValueError) else "WHATSAPP_API_ERROR"
        return error_response(400, code, str(exc), details)
    http = exc.http_status or 502
    status_code = http if 400 <= http < 500 and http not in (401, 403) else status.HTTP_502_BAD_GATEWAY
    return error_response(status_code, "WHATSAPP_API_ERROR", str(exc), details)
