"""``WACLOUD["FLOWS_HANDLER"]`` targets for test_django_flows.py (importable: this folder is on
sys.path). ``seen`` keeps every request the handler got."""

from __future__ import annotations

from typing import Any

from wacloud_django.services.flows import FlowRequest, FlowTokenInvalid

seen: list[FlowRequest] = []


def handle(request: FlowRequest) -> dict[str, Any]:
    seen.append(request)
    if request.flow_token == "expired":
        raise FlowTokenInvalid("booking closed")
    if request.action == "INIT":
        return {"screen": "START", "data": {"tables": ["patio", "window"]}}
    if request.action == "BACK":
        return {"screen": request.screen or "START", "data": {}}
    guests = int(request.data.get("guests", 0))
    if guests > 8:
        return {"screen": "START", "data": {"error_message": "At most 8 guests"}}
    params = {"flow_token": request.flow_token, "guests": guests}
    return {"screen": "SUCCESS", "data": {"extension_message_response": {"params": params}}}


def broken(request: FlowRequest) -> Any:
    return ["not", "a", "dict"]
