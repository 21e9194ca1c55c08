"""Helpers for the Flows tests: Flow JSON samples, raw Graph calls for Flows (multipart, as
Meta's spec gives them), a stand-in Flow endpoint, and the spec walkers of the Flows routes."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sandbox_support import USER, Graph, Reply
from test_media_templates import multipart

from wacloud import flow_crypto
from wacloud.sandbox import conformance

VALID_FLOW: dict[str, Any] = {
    "version": "7.0",
    "screens": [
        {
            "id": "START",
            "title": "Book a table",
            "layout": {"type": "SingleColumnLayout", "children": [{"type": "TextHeading", "text": "Hi"}]},
        },
        {
            "id": "DONE",
            "title": "Done",
            "terminal": True,
            "layout": {"type": "SingleColumnLayout", "children": []},
        },
    ],
}
ENDPOINT_FLOW: dict[str, Any] = {
    **VALID_FLOW,
    "data_api_version": "3.0",
    "routing_model": {"START": ["DONE"]},
}


def form(graph: Graph, path: str, fields: dict[str, str], file: bytes | None = None) -> Reply:
    """A multipart POST (a ``file`` part named flow.json when given)."""
    body, content_type = multipart(fields, None if file is None else ("flow.json", "application/json", file))
    return graph.request("POST", path, data=body, content_type=content_type)


def create(graph: Graph, name: str = "booking", **fields: str) -> Reply:
    return form(
        graph, f"/{graph.waba}/flows", {"name": name, "categories": '["APPOINTMENT_BOOKING"]', **fields}
    )


def upload_json(graph: Graph, flow_id: str, flow_json: Any) -> Reply:
    data = flow_json if isinstance(flow_json, bytes) else json.dumps(flow_json, indent=2).encode()
    return form(graph, f"/{flow_id}/assets", {"name": "flow.json", "asset_type": "FLOW_JSON"}, data)


def published(graph: Graph, name: str = "booking", flow_json: Any = VALID_FLOW) -> str:
    flow_id = create(graph, name).body["id"]
    assert upload_json(graph, flow_id, flow_json).body["validation_errors"] == []
    assert graph.request("POST", f"/{flow_id}/publish").status == 200
    return flow_id


def flow_send(flow: dict[str, Any], **parameters: Any) -> dict[str, Any]:
    """The body of a Flow message to USER opening ``flow`` (``{"flow_id": ...}`` or name)."""
    return {
        "to": USER,
        "type": "interactive",
        "interactive": {
            "type": "flow",
            "body": {"text": "Book"},
            "action": {
                "name": "flow",
                "parameters": {"flow_message_version": "3", "flow_cta": "Book!", **flow, **parameters},
            },
        },
    }


# -- a Flow endpoint, as a host would run it ------------------------------------------------------
class EndpointServer:
    """An HTTP endpoint that checks the signature (432), decrypts with ``private_key`` (421)
    and answers ``answer(request)`` encrypted; it keeps the decrypted requests it served."""

    def __init__(self, private_key: Any, secret: str, answer: Callable[[dict[str, Any]], dict[str, Any]]):
        self.private_key, self.secret, self.answer = private_key, secret, answer
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                expected = "sha256=" + hmac.new(outer.secret.encode(), raw, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(self.headers.get("X-Hub-Signature-256", ""), expected):
                    return self._reply(432, b"")
                try:
                    request = flow_crypto.decrypt_request(raw, outer.private_key)
                except ValueError:
                    return self._reply(421, b"")
                outer.requests.append(request.payload)
                return self._reply(200, request.encrypt_response(outer.answer(request.payload)).encode())

            def _reply(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/flows/endpoint/"

    @contextmanager
    def running(self) -> Iterator[EndpointServer]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()


def answer_screens(request: dict[str, Any]) -> dict[str, Any]:
    if request["action"] == "ping":
        return {"data": {"status": "active"}}
    return {"screen": "DONE", "data": {"seen": request.get("data", {})}}


# -- spec walkers of the Flows routes (test_spec_conformance.py runs them) -------------------------
def walk_list_flows(graph: Graph, wa_sandbox: Any) -> list[Reply]:
    create(graph, "a"), create(graph, "b")
    return [
        graph.request("GET", f"/{graph.waba}/flows"),
        graph.request("GET", f"/{graph.waba}/flows?limit=1"),
    ]


def walk_create_flow(graph: Graph, wa_sandbox: Any) -> list[Reply]:
    with_json = {"flow_json": json.dumps(VALID_FLOW), "publish": "true"}
    return [create(graph, "a"), create(graph, "b", **with_json), create(graph, "a")]


def walk_get_flow(graph: Graph, wa_sandbox: Any) -> list[Reply]:
    flow_id = published(graph)
    every = "id,name,categories,preview,status,validation_errors,json_version,data_api_version,"
    every += "data_channel_uri,health_status,whatsapp_business_account,application"
    metric = "metric.name(ENDPOINT_REQUEST_COUNT).granularity(DAY).since(2024-01-28).until(2024-01-30)"
    return [
        graph.request("GET", f"/{flow_id}"),
        graph.request("GET", f"/{flow_id}?fields={every}"),
        graph.request("GET", f"/{flow_id}?fields={metric}"),
        graph.request("GET", f"/{flow_id}?fields=preview.invalidate(true)"),
        graph.request("GET", f"/{flow_id}?fields=nope"),
    ]


def walk_update_flow_metadata(graph: Graph, wa_sandbox: Any) -> list[Reply]:
    draft, done = create(graph, "a").body["id"], published(graph, "b")
    return [form(graph, f"/{draft}", {"name": "renamed"}), form(graph, f"/{done}", {"name": "renamed2"})]


def walk_delete_flow(graph: Graph, wa_sandbox: Any) -> list[Reply]:
    draft, done = create(graph, "a").body["id"], published(graph, "b")
    return [graph.request("DELETE", f"/{draft}"), graph.request("DELETE", f"/{done}")]


def walk_list_assets(graph: Graph, wa_sandbox: Any) -> list[Reply]:
    empty, done = create(graph, "a").body["id"], published(graph, "b")
    return [graph.request("GET", f"/{empty}/assets"), graph.request("GET", f"/{done}/assets")]


def walk_update_flow_json(graph: Graph, wa_sandbox: Any) -> list[Reply]:
    flow_id = create(graph).body["id"]
    return [
        upload_json(graph, flow_id, VALID_FLOW),
        upload_json(graph, flow_id, {"version": "0.1", "screens": []}),
        upload_json(graph, flow_id, b"{not json"),
    ]


def walk_publish_flow(graph: Graph, wa_sandbox: Any) -> list[Reply]:
    flow_id = create(graph).body["id"]
    upload_json(graph, flow_id, VALID_FLOW)
    return [graph.request("POST", f"/{flow_id}/publish"), graph.request("POST", f"/{flow_id}/publish")]


def walk_deprecate_flow(graph: Graph, wa_sandbox: Any) -> list[Reply]:
    flow_id = published(graph)
    return [graph.request("POST", f"/{flow_id}/deprecate"), graph.request("POST", f"/{flow_id}/deprecate")]


def walk_get_encryption_key(graph: Graph, wa_sandbox: Any) -> list[Reply]:
    path = f"/{graph.phone}/whatsapp_business_encryption"
    empty = graph.request("GET", path)
    form(graph, path, {"business_public_key": flow_crypto.public_key_pem(flow_crypto.generate_private_key())})
    return [empty, graph.request("GET", path)]


def walk_set_encryption_key(graph: Graph, wa_sandbox: Any) -> list[Reply]:
    path = f"/{graph.phone}/whatsapp_business_encryption"
    pem = flow_crypto.public_key_pem(flow_crypto.generate_private_key())
    return [
        form(graph, path, {"business_public_key": pem}),
        form(graph, path, {"business_public_key": "nope"}),
    ]


FLOW_WALKS = {
    conformance.LIST_FLOWS: walk_list_flows,
    conformance.CREATE_FLOW: walk_create_flow,
    conformance.GET_FLOW: walk_get_flow,
    conformance.UPDATE_FLOW_METADATA: walk_update_flow_metadata,
    conformance.DELETE_FLOW: walk_delete_flow,
    conformance.LIST_FLOW_ASSETS: walk_list_assets,
    conformance.UPDATE_FLOW_JSON: walk_update_flow_json,
    conformance.PUBLISH_FLOW: walk_publish_flow,
    conformance.DEPRECATE_FLOW: walk_deprecate_flow,
    conformance.GET_ENCRYPTION_KEY: walk_get_encryption_key,
    conformance.SET_ENCRYPTION_KEY: walk_set_encryption_key,
}
