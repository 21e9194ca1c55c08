"""WhatsApp Flows management (Meta's Flows API), reached as ``client.flows``.

A Flow is created as ``DRAFT``; its Flow JSON is uploaded as an asset (Meta answers
with the ``validation_errors`` it found); publishing makes it ``PUBLISHED`` (refused
while there are validation errors); deprecating a published Flow ends it. Only a
draft can be deleted. Refusals raise :class:`wacloud.FlowError` (139000-139004),
bad arguments :class:`wacloud.InvalidParameter` before anything is sent.

Calls go through the core client (``call`` for JSON, ``call_form`` for the
multipart bodies Meta's spec gives these operations), so retries, timeouts and
error mapping are the same as for messages.

>>> created = client.flows.create("table_booking", ["APPOINTMENT_BOOKING"])  # doctest: +SKIP
>>> client.flows.update_json(created["id"], flow_json)["validation_errors"]  # doctest: +SKIP
[]
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from .errors import InvalidParameter

if TYPE_CHECKING:
    from .client import Client

__all__ = ["CATEGORIES", "DEFAULT_FIELDS", "METRIC_GRANULARITIES", "METRIC_NAMES", "Flows"]

#: Meta's Flow categories; a Flow has at least one.
CATEGORIES = frozenset(
    "SIGN_UP SIGN_IN APPOINTMENT_BOOKING LEAD_GENERATION SHOPPING CONTACT_US CUSTOMER_SUPPORT "
    "SURVEY OTHER".split()
)
#: What :meth:`Flows.get` asks for unless told otherwise.
DEFAULT_FIELDS = (
    "id",
    "name",
    "categories",
    "status",
    "validation_errors",
    "json_version",
    "data_api_version",
    "endpoint_uri",
    "preview",
    "health_status",
)
#: The endpoint metrics Meta keeps per Flow, and their granularities.
METRIC_NAMES = frozenset(
    {
        "ENDPOINT_REQUEST_COUNT",
        "ENDPOINT_REQUEST_ERROR",
        "ENDPOINT_REQUEST_ERROR_RATE",
        "ENDPOINT_REQUEST_LATENCY_SECONDS_CEIL",
        "ENDPOINT_AVAILABILITY",
    }
)
METRIC_GRANULARITIES = frozenset({"DAY", "HOUR", "LIFETIME"})

# Ids go into URL paths: the same characters the core allows.
_ID = re.compile(r"^[A-Za-z0-9_.-]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FIELD = re.compile(r"^[a-z_]+$")
#: Meta's cap on a Flow JSON file.
MAX_FLOW_JSON_BYTES = 10 * 1024 * 1024


def _invalid(field: str, problem: str) -> InvalidParameter:
    return InvalidParameter(f"{field}: {problem}", code=100)


def _checked_id(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise _invalid(field, "must be an id of letters, digits, '_', '-' and '.'")
    return value


def _checked_name(value: Any, field: str = "name") -> str:
    if not isinstance(value, str) or not value.strip():
        raise _invalid(field, "must be a non-empty str")
    if len(value) > 200:
        raise _invalid(field, f"is {len(value)} characters; Meta allows at most 200")
    return value


def _checked_categories(categories: Any) -> str:
    if isinstance(categories, str) or not isinstance(categories, Iterable):
        raise _invalid("categories", "must be a list of Flow categories")
    chosen = list(categories)
    if not chosen:
        raise _invalid("categories", "must name at least one category")
    unknown = [c for c in chosen if c not in CATEGORIES]
    if unknown:
        raise _invalid("categories", f"{unknown[0]!r} is not one of {', '.join(sorted(CATEGORIES))}")
    return json.dumps(chosen)


def _checked_https(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.startswith("https://") or any(c.isspace() for c in value):
        raise _invalid(field, "must be an https:// URL (Meta calls Flow endpoints over TLS only)")
    return value


def flow_json_bytes(flow_json: str | bytes | Mapping[str, Any]) -> bytes:
    """A Flow JSON as the bytes Meta is sent: a mapping is serialized; text and bytes must
    already be one JSON object. At most 10 MB."""
    if isinstance(flow_json, Mapping):
        data = json.dumps(flow_json, ensure_ascii=False, separators=(",", ":")).encode()
    elif isinstance(flow_json, (str, bytes, bytearray)):
        data = flow_json.encode() if isinstance(flow_json, str) else bytes(flow_json)
        try:
            parsed = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise _invalid("flow_json", "is not valid JSON") from None
        if not isinstance(parsed, dict):
            raise _invalid("flow_json", "must be a JSON object")
    else:
        raise _invalid("flow_json", f"must be a dict, str or bytes, not {type(flow_json).__name__}")
    if len(data) > MAX_FLOW_JSON_BYTES:
        raise _invalid("flow_json", f"is {len(data)} bytes; Meta allows at most 10 MB")
    return data


def _text(name: str, value: str) -> tuple[str, bytes, str, str]:
    return (name, value.encode(), "", "")


def _next_query(answer: Any) -> str:
    """The query of ``paging.next`` without ``access_token`` (the token travels only in the
    Authorization header), or ``""`` on the last page."""
    paging = answer.get("paging") if isinstance(answer, dict) else None
    following = paging.get("next") if isinstance(paging, dict) else None
    if not isinstance(following, str) or not following:
        return ""
    kept = [(k, v) for k, v in parse_qsl(urlsplit(following).query) if k != "access_token"]
    return urlencode(kept)


class Flows:
    """The Flows of one client's WABA (``waba_id`` is needed to create and list) and the
    endpoint encryption key of its phone number."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._core = client._core

    def _waba(self) -> str:
        if not self._client.waba_id:
            raise _invalid("waba_id", "is required for Flow calls: Client(..., waba_id=...)")
        return self._client.waba_id

    # ---- lifecycle ------------------------------------------------------------------
    def create(
        self,
        name: str,
        categories: Iterable[str],
        *,
        flow_json: str | bytes | Mapping[str, Any] | None = None,
        publish: bool = False,
        clone_flow_id: str | None = None,
        endpoint_uri: str | None = None,
    ) -> dict[str, Any]:
        """Create a Flow (``DRAFT``); returns Meta's ``{"id": ...}``, with ``success`` and
        ``validation_errors`` when ``flow_json`` was given. ``publish`` publishes it at once
        (needs a ``flow_json`` without validation errors)."""
        parts = [_text("name", _checked_name(name)), _text("categories", _checked_categories(categories))]
        if flow_json is not None:
            parts.append(_text("flow_json", flow_json_bytes(flow_json).decode()))
        if publish:
            if flow_json is None:
                raise _invalid("publish", "needs flow_json: a Flow is published with its Flow JSON")
            parts.append(_text("publish", "true"))
        if clone_flow_id is not None:
            parts.append(_text("clone_flow_id", _checked_id(clone_flow_id, "clone_flow_id")))
        if endpoint_uri is not None:
            parts.append(_text("endpoint_uri", _checked_https(endpoint_uri, "endpoint_uri")))
        return self._core.call_form(f"/{self._waba()}/flows", parts)

    def list(self, limit: int = 100) -> list[dict[str, Any]]:
        """Every Flow of the WABA (``id``, ``name``, ``status``, ``categories``,
        ``validation_errors``), following ``paging.next``; ``limit`` is the page size."""
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise _invalid("limit", "must be a positive int")
        base = f"/{self._waba()}/flows?"
        query = urlencode({"limit": limit})
        flows: list[dict[str, Any]] = []
        seen: set[str] = set()
        while query and query not in seen:  # a repeated cursor would loop forever
            seen.add(query)
            answer = self._core.call("GET", base + query)
            flows.extend(answer.get("data") or [])
            query = _next_query(answer)
        return flows

    def get(self, flow_id: str, fields: Iterable[str] = DEFAULT_FIELDS) -> dict[str, Any]:
        """One Flow with ``fields`` (Meta's names: ``status``, ``validation_errors``,
        ``json_version``, ``preview``, ``health_status``, ``whatsapp_business_account``, ...)."""
        wanted = [fields] if isinstance(fields, str) else list(fields)
        for name in wanted:
            if not isinstance(name, str) or not _FIELD.match(name):
                raise _invalid("fields", f"{name!r} is not a field name")
        return self._node(flow_id, ",".join(wanted))

    def update_metadata(
        self,
        flow_id: str,
        *,
        name: str | None = None,
        categories: Iterable[str] | None = None,
        endpoint_uri: str | None = None,
        application_id: str | None = None,
    ) -> None:
        """Rename a Flow, change its categories, its endpoint URL or the Meta app it is
        connected to. Meta refuses it for a published Flow (:class:`FlowError`)."""
        parts = []
        if name is not None:
            parts.append(_text("name", _checked_name(name)))
        if categories is not None:
            parts.append(_text("categories", _checked_categories(categories)))
        if endpoint_uri is not None:
            parts.append(_text("endpoint_uri", _checked_https(endpoint_uri, "endpoint_uri")))
        if application_id is not None:
            parts.append(_text("application_id", _checked_id(application_id, "application_id")))
        if not parts:
            raise _invalid("metadata", "give at least one of name, categories, endpoint_uri, application_id")
        self._core.call_form(f"/{_checked_id(flow_id, 'flow_id')}", parts, idempotent=True)

    def update_json(self, flow_id: str, flow_json: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
        """Upload the Flow's JSON (the ``flow.json`` asset). Returns Meta's answer:
        ``{"success": true, "validation_errors": [...]}``: a Flow with errors is kept, but
        cannot be published until they are fixed."""
        data = flow_json_bytes(flow_json)
        parts = [
            ("file", data, "flow.json", "application/json"),
            _text("name", "flow.json"),
            _text("asset_type", "FLOW_JSON"),
        ]
        # Uploading the same JSON twice leaves the Flow as one upload would.
        answer = self._core.call_form(f"/{_checked_id(flow_id, 'flow_id')}/assets", parts, idempotent=True)
        answer.setdefault("validation_errors", [])
        return answer

    def assets(self, flow_id: str) -> list[dict[str, Any]]:
        """The Flow's assets: ``{"name": "flow.json", "asset_type": "FLOW_JSON",
        "download_url": ...}``."""
        answer = self._core.call("GET", f"/{_checked_id(flow_id, 'flow_id')}/assets")
        return list(answer.get("data") or [])

    def publish(self, flow_id: str) -> None:
        """``DRAFT`` -> ``PUBLISHED`` (irreversible). :class:`FlowError` while the Flow JSON
        has validation errors or the Flow is not a draft."""
        self._core.call("POST", f"/{_checked_id(flow_id, 'flow_id')}/publish")

    def deprecate(self, flow_id: str) -> None:
        """``PUBLISHED`` -> ``DEPRECATED``: it can no longer be sent or opened (irreversible)."""
        self._core.call("POST", f"/{_checked_id(flow_id, 'flow_id')}/deprecate")

    def delete(self, flow_id: str) -> None:
        """Delete a ``DRAFT`` Flow; a published one is refused (:class:`FlowError`)."""
        self._core.call("DELETE", f"/{_checked_id(flow_id, 'flow_id')}")

    # ---- preview and metrics ----------------------------------------------------------
    def preview_url(self, flow_id: str, invalidate: bool = False) -> dict[str, Any]:
        """A web preview of the Flow: ``{"preview_url", "expires_at"}``; ``invalidate``
        makes Meta issue a new link (the old one stops working)."""
        answer = self._node(flow_id, f"preview.invalidate({'true' if invalidate else 'false'})")
        return dict(answer.get("preview") or {})

    def metrics(
        self,
        flow_id: str,
        name: str,
        granularity: str = "DAY",
        since: str | None = None,
        until: str | None = None,
    ) -> dict[str, Any]:
        """An endpoint metric of the Flow: ``{"name", "granularity", "data_points": [...]}``.
        ``since``/``until`` are ``YYYY-MM-DD``."""
        if name not in METRIC_NAMES:
            raise _invalid("name", f"must be one of {', '.join(sorted(METRIC_NAMES))}")
        if granularity not in METRIC_GRANULARITIES:
            raise _invalid("granularity", f"must be one of {', '.join(sorted(METRIC_GRANULARITIES))}")
        field = f"metric.name({name}).granularity({granularity})"
        for key, value in (("since", since), ("until", until)):
            if value is not None:
                if not isinstance(value, str) or not _DATE.match(value):
                    raise _invalid(key, "must be a date written YYYY-MM-DD")
                field += f".{key}({value})"
        return dict(self._node(flow_id, field).get("metric") or {})

    # ---- the endpoint's encryption key (per phone number) ------------------------------
    def upload_public_key(self, public_key_pem: str | bytes) -> None:
        """Upload (and have Meta sign) the RSA public key Flows encrypt their endpoint
        requests with; it replaces the number's previous key."""
        text = public_key_pem.decode() if isinstance(public_key_pem, bytes) else public_key_pem
        if not isinstance(text, str) or "BEGIN PUBLIC KEY" not in text:
            raise _invalid("business_public_key", "must be a PEM public key (-----BEGIN PUBLIC KEY-----)")
        path = f"/{self._client.phone_number_id}/whatsapp_business_encryption"
        self._core.call_form(path, [_text("business_public_key", text)], idempotent=True)

    def public_key(self) -> dict[str, Any]:
        """The number's uploaded key: ``{"business_public_key", "business_public_key_signature_status"}``
        (``VALID`` or ``MISMATCH``); empty when none was uploaded."""
        answer = self._core.call("GET", f"/{self._client.phone_number_id}/whatsapp_business_encryption")
        data = answer.get("data") or []
        return dict(data[0]) if data else {}

    def _node(self, flow_id: str, fields: str) -> dict[str, Any]:
        return self._core.call("GET", f"/{_checked_id(flow_id, 'flow_id')}?fields={fields}")
