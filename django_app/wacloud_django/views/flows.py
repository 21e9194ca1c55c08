"""The WhatsApp Flows data-exchange endpoint: the URL given to Meta as a Flow's
``endpoint_uri``. All the work is in :mod:`wacloud_django.services.flows`."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from ..conf import webhook_max_body_bytes
from ..models import BusinessAccount
from ..services.flows import handle_endpoint_request
from ..services.webhook_auth import SIGNATURE_HEADER


@method_decorator(csrf_exempt, name="dispatch")
class FlowEndpointView(View):
    """POST only: Meta's encrypted request in, the encrypted answer (base64 text) out, or
    421 (cannot decrypt), 432 (bad signature), 427 (flow token refused), 413 (too large)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, phone_number_id: str | None = None) -> HttpResponse:
        account = None
        if phone_number_id is not None:
            account = BusinessAccount.objects.filter(phone_number_id=phone_number_id).first()
            if account is None:
                raise Http404(f"No WhatsApp account with phone number id {phone_number_id}")
        limit = webhook_max_body_bytes()
        body = request.read(limit + 1)
        if len(body) > limit:
            return HttpResponse("Request body too large", status=413, content_type="text/plain")
        answer = handle_endpoint_request(body, request.headers.get(SIGNATURE_HEADER), account)
        return HttpResponse(answer.body, status=answer.status, content_type="text/plain")
