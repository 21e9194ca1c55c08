"""WhatsApp Flows as the sandbox keeps them: Meta's lifecycle (``DRAFT`` -> ``PUBLISHED``
-> ``DEPRECATED``; only drafts change or are deleted; publishing needs a Flow JSON without
validation errors), a basic Flow JSON check answering Meta's ``validation_errors``, the
rules for sending a Flow message, and the endpoint metrics recorded from the calls the
sandbox makes to a Flow's endpoint (:mod:`.flow_endpoint`). The Flow JSON check is
:mod:`.flow_json`."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from .flow_json import flow_error, validate_flow_json
from .graph_errors import GraphError, invalid, invalid_parameter

CATEGORIES = frozenset(
    "SIGN_UP SIGN_IN APPOINTMENT_BOOKING LEAD_GENERATION SHOPPING CONTACT_US CUSTOMER_SUPPORT "
    "SURVEY OTHER".split()
)
FLOW_FIELDS = (
    "id",
    "name",
    "categories",
    "preview",
    "status",
    "validation_errors",
    "json_version",
    "data_api_version",
    "data_channel_uri",
    "endpoint_uri",
    "health_status",
    "whatsapp_business_account",
    "application",
    "metric",
)
DEFAULT_FIELDS = ("id", "name", "categories", "status", "validation_errors")
PREVIEW_SECONDS = 30 * 24 * 3600  # Meta's preview links last 30 days
METRICS = (
    "ENDPOINT_REQUEST_COUNT",
    "ENDPOINT_REQUEST_ERROR",
    "ENDPOINT_REQUEST_ERROR_RATE",
    "ENDPOINT_REQUEST_LATENCY_SECONDS_CEIL",
    "ENDPOINT_AVAILABILITY",
)
GRANULARITIES = ("DAY", "HOUR", "LIFETIME")


# -- records and lifecycle ----------------------------------------------------------------------------
class FlowBook:
    """The Flows of the sandbox's WABA, in ``state.flows`` (id -> record)."""

    def __init__(self, state: Any) -> None:
        self.state = state

    @property
    def flows(self) -> dict[str, dict[str, Any]]:
        return self.state.flows

    def get(self, flow_id: str) -> dict[str, Any] | None:
        return self.flows.get(flow_id)

    def by_name(self, name: str) -> dict[str, Any] | None:
        return next((f for f in self.flows.values() if f["name"] == name), None)

    def ordered(self) -> list[dict[str, Any]]:
        return sorted(self.flows.values(), key=lambda f: f["_order"])

    def create(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params.get("name")
        if not isinstance(name, str) or not name.strip():
            raise _required("name")
        if self.by_name(name) is not None:
            raise invalid_parameter(
                "Flow name is not unique: another Flow of this WhatsApp Business Account has it."
            )
        categories = _categories(params.get("categories"), required=True)
        clone = None
        if params.get("clone_flow_id") is not None:
            clone = self.get(str(params["clone_flow_id"]))
            if clone is None:
                raise invalid_parameter("Flow with specified ID does not exist.")
        record = {
            "id": self.state.new_numeric_id(),
            "_order": self.state.next_sequence(),
            "name": name,
            "categories": categories,
            "status": "DRAFT",
            "validation_errors": [],
            "flow_json": None,
            "json_version": None,
            "data_api_version": None,
            "endpoint_uri": None,
            "application_id": None,
            "preview_token": None,
            "preview_expires": 0,
            "endpoint_calls": [],
        }
        if clone is not None:
            for key in ("flow_json", "json_version", "data_api_version", "validation_errors", "endpoint_uri"):
                record[key] = clone[key]
        if params.get("endpoint_uri") is not None:
            record["endpoint_uri"] = _https(params["endpoint_uri"], "endpoint_uri")
        answer: dict[str, Any] = {"id": record["id"]}
        if params.get("flow_json") is not None:
            text = params["flow_json"]
            if not isinstance(text, str):
                text = json.dumps(text)
            self._store_json(record, text)
            answer.update(success=True, validation_errors=record["validation_errors"])
        self.flows[record["id"]] = record
        self.state.dirty = True
        if (
            _truthy(params.get("publish"))
            and record["flow_json"] is not None
            and not record["validation_errors"]
        ):
            try:
                self.publish(record["id"], public_key=self.state.flow_public_key)
            except GraphError:
                pass  # Meta: publish "only works" with a publishable Flow; it stays a draft
        return answer

    def update_metadata(self, record: dict[str, Any], params: dict[str, Any]) -> None:
        self._require_draft(record)
        if "name" in params:
            name = params["name"]
            if not isinstance(name, str) or not name.strip():
                raise invalid_parameter("Param name must be a non-empty string.")
            other = self.by_name(name)
            if other is not None and other is not record:
                raise invalid_parameter(
                    "Flow name is not unique: another Flow of this WhatsApp Business Account has it."
                )
            record["name"] = name
        if "categories" in params:
            record["categories"] = _categories(params["categories"], required=True)
        if "endpoint_uri" in params:
            record["endpoint_uri"] = _https(params["endpoint_uri"], "endpoint_uri")
        if "application_id" in params:
            record["application_id"] = str(params["application_id"])
        self.state.dirty = True

    def update_json(self, record: dict[str, Any], text: str) -> dict[str, Any]:
        self._require_draft(record)
        self._store_json(record, text)
        self.state.dirty = True
        return {"success": True, "validation_errors": record["validation_errors"]}

    def _store_json(self, record: dict[str, Any], text: str) -> None:
        flow, problems = validate_flow_json(text)
        record["flow_json"] = text
        record["validation_errors"] = problems
        record["json_version"] = flow.get("version") if isinstance(flow, dict) else None
        record["data_api_version"] = flow.get("data_api_version") if isinstance(flow, dict) else None

    def publish(self, flow_id: str, public_key: str) -> None:
        record = self.flows[flow_id]
        title = "Publishing Flow in invalid state"
        if record["status"] != "DRAFT":
            raise flow_error(
                139002, title, f"The Flow is {record['status']}: only a DRAFT Flow can be published."
            )
        if record["flow_json"] is None:
            raise flow_error(
                139002, "Publishing Flow without Flow JSON", "Upload the Flow JSON before publishing."
            )
        if record["validation_errors"]:
            raise flow_error(
                139002,
                "Publishing Flow with validation errors",
                f"The Flow JSON has {len(record['validation_errors'])} validation error(s); fix them first.",
            )
        if record["data_api_version"] and not record["endpoint_uri"]:
            raise flow_error(
                139002,
                "Publishing without specifying endpoint_uri is forbidden",
                "A Flow with a data_api_version talks to an endpoint: set its endpoint_uri first.",
            )
        if record["data_api_version"] and not public_key:
            raise flow_error(
                139002,
                "Missing Flows Signed Public Key",
                "Upload the endpoint's public key (POST /<PHONE_NUMBER_ID>/whatsapp_business_encryption).",
            )
        record["status"] = "PUBLISHED"
        self.state.dirty = True

    def deprecate(self, record: dict[str, Any]) -> None:
        if record["status"] != "PUBLISHED":
            problem = (
                "Flow is already deprecated"
                if record["status"] == "DEPRECATED"
                else "Can't deprecate unpublished flow"
            )
            raise flow_error(
                139003, problem, f"The Flow is {record['status']}: only a PUBLISHED Flow can be deprecated."
            )
        record["status"] = "DEPRECATED"
        self.state.dirty = True

    def delete(self, record: dict[str, Any]) -> None:
        if record["status"] != "DRAFT":
            raise flow_error(
                139004,
                "Can't delete published Flow",
                f"The Flow is {record['status']}: only a DRAFT Flow can be deleted.",
            )
        del self.flows[record["id"]]
        self.state.dirty = True

    def _require_draft(self, record: dict[str, Any]) -> None:
        if record["status"] != "DRAFT":
            raise flow_error(
                139001,
                "Flow can't be updated",
                f"The Flow is {record['status']}: a published Flow and its assets cannot change; "
                "clone it (clone_flow_id) to make a new version.",
            )

    # -- what GET answers ---------------------------------------------------------------------------
    def preview(self, record: dict[str, Any], base_url: str, invalidate: bool) -> dict[str, Any]:
        now = self.state.now()
        if invalidate or not record["preview_token"] or record["preview_expires"] <= now:
            record["preview_token"] = secrets.token_hex(16)
            record["preview_expires"] = now + PREVIEW_SECONDS
            self.state.dirty = True
        link = f"{base_url}/_sandbox/flows/{record['id']}/preview"
        return {
            "preview_url": f"{link}?token={record['preview_token']}",
            "expires_at": _graph_time(record["preview_expires"]),
        }

    def list_item(self, record: dict[str, Any]) -> dict[str, Any]:
        return {key: record[key] for key in ("id", "name", "status", "categories", "validation_errors")}


# -- sending a Flow message ----------------------------------------------------------------------------
def check_flow_send(state: Any, params: dict[str, Any]) -> None:
    """Meta's rules for the Flow a message opens: it exists, a draft goes only with
    ``mode: draft``, a deprecated one no longer goes. Other messages pass untouched."""
    if params.get("type") != "interactive":
        return
    interactive = params.get("interactive")
    if not isinstance(interactive, dict) or interactive.get("type") != "flow":
        return
    book = FlowBook(state)
    parameters = (interactive.get("action") or {}).get("parameters") or {}
    if not isinstance(parameters, dict):
        return
    where = "interactive['action']['parameters']"
    if parameters.get("flow_id") and parameters.get("flow_name"):
        raise invalid(f"Param {where} takes flow_id or flow_name, not both.")
    record = (
        book.get(str(parameters["flow_id"]))
        if parameters.get("flow_id")
        else book.by_name(str(parameters.get("flow_name")))
    )
    if record is None:
        named = parameters.get("flow_id") or parameters.get("flow_name")
        raise invalid(f"Param {where}: the Flow {named!r} does not exist in this WhatsApp Business Account.")
    mode = parameters.get("mode", "published")
    if record["status"] == "DRAFT" and mode != "draft":
        raise invalid(
            f"The Flow {record['id']} is a DRAFT: send it with {where}['mode'] \"draft\" to test it."
        )
    if record["status"] in ("DEPRECATED", "BLOCKED"):
        raise invalid(f"The Flow {record['id']} is {record['status']} and can no longer be sent.")
    payload = parameters.get("flow_action_payload")
    if isinstance(payload, dict) and payload.get("data") == {}:
        raise invalid(f"Param {where}['flow_action_payload']['data'] must be a non-empty object.")


def completion(state: Any, wamid: str, response: dict[str, Any]) -> dict[str, Any]:
    """The user's completion of the Flow message ``wamid`` (what ``POST /_sandbox/inbound``
    takes): an ``nfm_reply`` quoting it, ``response_json`` holding ``response`` plus the
    ``flow_token`` the message was sent with, as WhatsApp adds it."""
    record = state.messages.get(wamid)
    interactive = (record or {}).get("payload", {}).get("interactive") or {}
    if interactive.get("type") != "flow":
        raise invalid_parameter(f"{wamid!r} is not a Flow message the business sent.")
    parameters = interactive.get("action", {}).get("parameters", {})
    answers = {**response, "flow_token": parameters.get("flow_token", "unused")}
    return {
        "from": record["wa_id"],
        "type": "interactive",
        "interactive": {"type": "nfm_reply", "nfm_reply": {"response_json": answers}},
        "context": {"message_id": wamid},
    }


# -- metrics from recorded endpoint calls ----------------------------------------------------------------
def record_endpoint_call(record: dict[str, Any], at: float, status: int, seconds: float, error: str) -> None:
    record["endpoint_calls"].append({"at": at, "status": status, "seconds": seconds, "error": error})
    del record["endpoint_calls"][:-10_000]  # bounded memory


def metric(
    record: dict[str, Any], name: str, granularity: str, since: float | None, until: float | None
) -> dict[str, Any]:
    """One endpoint metric in Meta's shape, from the calls the sandbox made to the Flow's endpoint."""
    calls = [
        c
        for c in record["endpoint_calls"]
        if (since is None or c["at"] >= since) and (until is None or c["at"] < until)
    ]
    buckets: dict[str, list[dict[str, Any]]] = {}
    for call in calls:
        buckets.setdefault(_bucket(call["at"], granularity), []).append(call)
    points = []
    for stamp in sorted(buckets):
        group = buckets[stamp]
        failed = [c for c in group if not 200 <= c["status"] < 300]
        if name == "ENDPOINT_REQUEST_COUNT":
            data = [{"key": "value", "value": len(group)}]
        elif name == "ENDPOINT_REQUEST_ERROR":
            kinds: dict[str, int] = {}
            for call in failed:
                kinds[call["error"]] = kinds.get(call["error"], 0) + 1
            data = [{"key": key, "value": value} for key, value in sorted(kinds.items())]
        elif name == "ENDPOINT_REQUEST_ERROR_RATE":
            data = [{"key": "value", "value": len(failed) / len(group)}]
        elif name == "ENDPOINT_AVAILABILITY":
            data = [
                {"key": "succeeded", "value": len(group) - len(failed)},
                {"key": "failed", "value": len(failed)},
            ]
        else:  # latency: how many requests took up to 1 s, 2 s, ...
            ceilings: dict[int, int] = {}
            for call in group:
                ceiling = max(1, int(-(-call["seconds"] // 1)))
                ceilings[ceiling] = ceilings.get(ceiling, 0) + 1
            data = [{"key": str(key), "value": value} for key, value in sorted(ceilings.items())]
        points.append({"timestamp": stamp, "data": data})
    return {"name": name, "granularity": granularity, "data_points": points}


def _bucket(at: float, granularity: str) -> str:
    if granularity == "LIFETIME":
        return "1970-01-01T00:00:00+0000"
    fmt = "%Y-%m-%dT%H:00:00+0000" if granularity == "HOUR" else "%Y-%m-%dT00:00:00+0000"
    return time.strftime(fmt, time.gmtime(at))


def _graph_time(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(seconds))


# -- parameter readers ----------------------------------------------------------------------------------
def _required(name: str) -> GraphError:
    text = f"The parameter {name} is required."
    return GraphError(100, text, message=f"(#100) {text}")


def _categories(value: Any, required: bool) -> list[str]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = [value]
    if value is None and required:
        raise _required("categories")
    if not isinstance(value, list) or not value or not all(isinstance(c, str) for c in value):
        raise invalid_parameter("Param categories must be a non-empty array of Flow categories.")
    unknown = [c for c in value if c not in CATEGORIES]
    if unknown:
        raise invalid_parameter(
            f"Param categories[{value.index(unknown[0])}] must be one of {{{', '.join(sorted(CATEGORIES))}}}."
        )
    return value


def _https(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.startswith("https://"):
        raise invalid_parameter(f"Param {name} must be an https URL.")
    return value


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")
