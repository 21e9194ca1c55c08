"""schema (OpenAPI 3, made by drf-spectacular from the views) and a docs page that lists
every operation (no JavaScript, no assets from elsewhere)."""

from __future__ import annotations

from typing import Any

from django.shortcuts import render
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer, OpenApiYamlRenderer
from rest_framework.response import Response

from ..base import ApiView, documented

_METHODS = ("get", "post", "patch", "put", "delete")


class _Generator(SchemaGenerator):
    def _get_paths_and_endpoints(self) -> list[Any]:
        # Every path is routed with and without its trailing slash: document each once.
        endpoints = super()._get_paths_and_endpoints()
        plain = {(path, method) for path, _, method, _ in endpoints if not path.endswith("/")}
        return [e for e in endpoints if not (e[0].endswith("/") and (e[0].rstrip("/"), e[2]) in plain)]


def build_schema(request: Any = None) -> dict[str, Any]:
    """The schema of the project's URLs (so paths carry the host's prefix), each
    operation once."""
    generator = _Generator(
        title="wacloud REST API",
        version="1",
        description="WhatsApp Business Cloud API for this Django project (docs/api.md).",
    )
    return generator.get_schema(request=request, public=True)


class SchemaView(ApiView):
    needs_organization = False
    permission_classes: list[Any] = []
    renderer_classes = [OpenApiJsonRenderer, OpenApiYamlRenderer]

    @documented(exclude=True)
    def get(self, request: Any) -> Response:
        return Response(build_schema(request))


class DocsView(ApiView):
    needs_organization = False
    permission_classes: list[Any] = []

    @documented(exclude=True)
    def get(self, request: Any) -> Any:
        schema = build_schema(request)
        operations = []
        for path, item in schema.get("paths", {}).items():
            for method in _METHODS:
                if method in item:
                    operation = item[method]
                    operations.append(
                        {
                            "method": method.upper(),
                            "path": path,
                            "summary": operation.get("summary", ""),
                            "description": operation.get("description", ""),
                            "parameters": [
                                p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"
                            ],
                        }
                    )
        return render(request._request, "wacloud/api_docs.html", {"operations": operations, "schema": schema})
