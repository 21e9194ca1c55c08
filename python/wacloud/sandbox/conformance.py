"""The sandbox held to Meta's OpenAPI spec (:mod:`.spec`): requests refused where the spec
refuses them, with Meta's code-100 error, and the node fields the spec documents.

Checking is on unless ``SandboxConfig.spec_validation`` is false (CLI: ``--no-spec-validation``)
and needs jsonschema and PyYAML (the ``[sandbox]`` extra); without them the sandbox logs once
and serves unchecked. The sandbox's own checks run first where it has them (they answer Meta's
more specific codes, such as 131008 or 131009, and name the field the way Meta does); the spec
then refuses whatever else is malformed, before anything is stored or sent."""

from __future__ import annotations

import functools
import logging
from typing import Any

from . import spec
from .graph_errors import GraphError, invalid_parameter

log = logging.getLogger("wacloud.sandbox")

# The sandbox's routes and the spec operation each one serves.
SEND_MESSAGE = "sendMessage"
UPLOAD_MEDIA = "uploadImage"
GET_MEDIA = "retrieveMediaUrl"
DELETE_MEDIA = "deleteMedia"
DOWNLOAD_MEDIA = "downloadMedia"
GET_PHONE_NUMBER = "getPhoneNumberById"
GET_WABA = "getWhatsAppBusinessAccountDetails"
LIST_TEMPLATES = "getTemplateByNameDefaultFields"
CREATE_TEMPLATE = "createAuthenticationTemplateWOtpCopyCodeButton"  # the spec's one POST there
DELETE_TEMPLATE = "deleteTemplateByName"
GET_TEMPLATE = "getTemplateByIdDefaultFields"
EDIT_TEMPLATE = "editTemplate"
GET_PROFILE = "getWhatsAppBusinessProfile"
UPDATE_PROFILE = "updateWhatsAppBusinessProfileInformation"
# WhatsApp Flows and the endpoint's encryption key (routes_flows.py).
LIST_FLOWS = "listFlows"
CREATE_FLOW = "createFlow"
GET_FLOW = "getFlow"
UPDATE_FLOW_METADATA = "updateFlowMetadata"
DELETE_FLOW = "deleteFlow"
LIST_FLOW_ASSETS = "listAssetsGetFlowJsonUrl"
UPDATE_FLOW_JSON = "updateFlowJson"
PUBLISH_FLOW = "publishFlow"
DEPRECATE_FLOW = "deprecateFlow"
GET_ENCRYPTION_KEY = "getBusinessEncryptionPublicKey"
SET_ENCRYPTION_KEY = "setBusinessEncryptionPublicKey"
FLOWS_SERVED = (
    LIST_FLOWS, CREATE_FLOW, GET_FLOW, UPDATE_FLOW_METADATA, DELETE_FLOW, LIST_FLOW_ASSETS,
    UPDATE_FLOW_JSON, PUBLISH_FLOW, DEPRECATE_FLOW, GET_ENCRYPTION_KEY, SET_ENCRYPTION_KEY,
)  # fmt: skip
# Onboarding and number management (routes_account.py).
REGISTER = "registerWhatsAppBusinessPhoneNumber"
DEREGISTER = "deregisterPhoneNumber"
REQUEST_CODE = "requestVerificationCode"
VERIFY_CODE = "verifyPhoneNumberCode"
SET_PIN = "updatePhoneNumberStatus"
LIST_PHONE_NUMBERS = "getWhatsAppBusinessAccountPhoneNumbers"
LIST_SUBSCRIBED_APPS = "getAllSubscriptionsForAWaba"
SUBSCRIBE_APP = "subscribeToWabaWebhooks"
UNSUBSCRIBE_APP = "unsubscribeFromWabaWebhooks"
LIST_BLOCKED = "getBlockedUsers"
BLOCK_USERS = "blockUserS"
UNBLOCK_USERS = "unblockUserS"
LIST_QR_CODES = "listAllQrCodes"
SAVE_QR_CODE = "createOrUpdateQrCode"
GET_QR_CODE = "getIndividualQrCode"
DELETE_QR_CODE = "deleteIndividualQrCode"
GET_COMMERCE = "getCommerceSettings"
SET_COMMERCE = "setOrUpdateCommerceSettings"
ACCOUNT_SERVED = (
    REGISTER, DEREGISTER, REQUEST_CODE, VERIFY_CODE, SET_PIN, LIST_PHONE_NUMBERS, LIST_SUBSCRIBED_APPS,
    SUBSCRIBE_APP, UNSUBSCRIBE_APP, LIST_BLOCKED, BLOCK_USERS, UNBLOCK_USERS, LIST_QR_CODES,
    SAVE_QR_CODE, GET_QR_CODE, DELETE_QR_CODE, GET_COMMERCE, SET_COMMERCE,
)  # fmt: skip
SERVED = (
    SEND_MESSAGE, UPLOAD_MEDIA, GET_MEDIA, DELETE_MEDIA, DOWNLOAD_MEDIA, GET_PHONE_NUMBER, GET_WABA,
    LIST_TEMPLATES, CREATE_TEMPLATE, DELETE_TEMPLATE, GET_PROFILE, UPDATE_PROFILE,
    GET_TEMPLATE, EDIT_TEMPLATE,
    *FLOWS_SERVED,
    *ACCOUNT_SERVED,
)  # fmt: skip


@functools.cache
def _usable() -> bool:
    if spec.available():
        return True
    log.warning("jsonschema/PyYAML not installed: requests are not checked against Meta's spec")
    return False


def enabled(config: Any) -> bool:
    return bool(getattr(config, "spec_validation", True)) and _usable()


def warm_up(config: Any) -> None:
    """Parse the spec and build the validators the sandbox uses most, if checking is on."""
    if enabled(config):
        for operation_id in SERVED:
            operation = spec.operation(operation_id)
            operation.check_query({})
            operation.check_body({})
        # The compiled check of every kind of message (the send schema's branches by ``type``).
        send = spec.operation(SEND_MESSAGE).request_schema()
        branches = spec.discriminator(send) if send else None
        for schema_pointer in branches[1].values() if branches else ():
            spec.acceptor(schema_pointer)


def refusal(violation: spec.Violation) -> GraphError:
    """Meta's code-100 error for one violation: "The parameter text['body'] is required." for
    a missing field, "(#100) Invalid parameter" naming the field and rule otherwise."""
    if violation.rule == "required" and violation.missing:
        name = _graph_name(violation.location, violation.missing)
        text = f"The parameter {name} is required."
        return GraphError(100, text, message=f"(#100) {text}")
    where = _graph_name(violation.location)
    subject = f"Param {where}" if where else "The request body"
    return invalid_parameter(f"{subject} is not valid: {violation.message}")


def _graph_name(location: str, leaf: str | None = None) -> str:
    """``template.components[0]`` + ``type`` -> ``template['components'][0]['type']`` (Graph's way)."""
    parts = [p for p in location.replace("[", ".[").split(".") if p]
    if leaf:
        parts.append(leaf)
    if not parts:
        return ""
    head, rest = parts[0], parts[1:]
    return head + "".join(p if p.startswith("[") else f"['{p}']" for p in rest)


# Per operation, once (keyed by its id: hashing an Operation costs more than these lookups).
@functools.cache
def _requires_query(operation_id: str) -> bool:
    return any(param.get("required") for param in spec.operation(operation_id).query_parameters())


@functools.cache
def _json_body_schema(operation_id: str) -> str | None:
    return spec.operation(operation_id).request_schema("application/json")


def check_request(config: Any, operation_id: str, query: Any, body: Any = None) -> None:
    """Raise Meta's error for the first way the query or JSON body breaks the operation's
    schema; a no-op when checking is off."""
    if not enabled(config):
        return
    problems: list[spec.Violation] = []
    if query or _requires_query(operation_id):  # an empty query can only lack a required one
        problems = spec.operation(operation_id).check_query(dict(query))
    if body is not None and (schema := _json_body_schema(operation_id)) is not None:
        problems += spec.violations(body, schema)  # operation.check_body, the pointer looked up once
    if problems:
        raise refusal(problems[0])


# -- node fields ------------------------------------------------------------------------------
def documented_fields(operation_id: str, list_items: bool = False) -> tuple[str, ...]:
    """The fields the spec documents for the node an operation answers (for an edge: its
    items). Business profile items are wrapped in ``business_profile`` by the spec."""
    schema = spec.operation(operation_id).response_schema(200)
    if schema is None:
        return ()
    node = spec.schema_at(schema)
    if list_items:
        node = node.get("properties", {}).get("data", {}).get("items", {})
        wrapped = node.get("properties", {}).get("business_profile")  # Meta answers it flat
        if isinstance(wrapped, dict) and "$ref" in wrapped:
            node = spec.schema_at(wrapped["$ref"][1:])
    return tuple(node.get("properties", {}))


def node_fields(operation_id: str, own: tuple[str, ...], list_items: bool = False) -> tuple[str, ...]:
    """The fields a node answers: the sandbox's own and every one the spec documents. Without
    the spec libraries, only the sandbox's own."""
    if not _usable():
        return own
    return own + tuple(f for f in documented_fields(operation_id, list_items) if f not in own)


def waba_node(config: Any, templates: list[dict[str, Any]]) -> dict[str, Any]:
    """Every field of the WhatsApp Business Account node, with the sandbox account's values."""
    template_statuses = {"APPROVED", "PENDING", "REJECTED", "DISABLED"}
    return {
        "id": config.waba_id,
        "name": config.verified_name,
        "currency": "USD",
        "timezone_id": "1",
        "message_template_namespace": "sandbox_" + config.waba_id,
        "account_review_status": "APPROVED",
        "business_verification_status": "VERIFIED",
        "ownership_type": "SELF_OWNED",
        "country": "US",
        "purchase_order_number": "",
        "audiences": [],
        "is_enabled_for_insights": True,
        "schedules": [],
        "dcc_config": {"enabled": False},
        "on_behalf_of_business_info": {"id": config.waba_id, "name": config.verified_name},
        "subscribed_apps": (
            [{"id": "sandbox-app", "name": "wacloud sandbox webhooks"}] if config.webhook_url else []
        ),
        "message_templates": [
            {
                "id": t["id"],
                "name": t["name"],
                **({"status": t["status"]} if t["status"] in template_statuses else {}),
            }
            for t in templates
        ],
        "phone_numbers": [
            {
                "id": config.phone_number_id,
                "display_phone_number": config.display_phone_number,
                "verified_name": config.verified_name,
            }
        ],
    }


WABA_DEFAULT_FIELDS = ("id", "name", "currency", "timezone_id", "message_template_namespace")
