"""``GET <prefix>/metrics``: Prometheus' text exposition format (docs/operations.md, "Metrics").

A 404 unless ``WACLOUD["METRICS"]["ENABLED"]``; with ``WACLOUD["METRICS"]["TOKEN"]`` set,
a 403 unless the request carries ``Authorization: Bearer <token>``."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.http import require_GET

from .. import metrics


@require_GET
def metrics_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    if not metrics.enabled():
        raise Http404("metrics are not enabled")
    if not metrics.installed():
        return HttpResponse(
            f"prometheus_client is not installed: {metrics.INSTALL_HINT}\n", status=503,
            content_type="text/plain; charset=utf-8",
        )  # fmt: skip
    if not metrics.token_matches(request.headers.get("Authorization")):
        return HttpResponseForbidden("a valid Authorization: Bearer token is required\n")
    body, content_type = metrics.exposition()
    response = HttpResponse(body, content_type=content_type)
    response["Cache-Control"] = "no-store"
    return response
