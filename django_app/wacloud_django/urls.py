"""``path("api/whatsapp/", include("wacloud_django.urls"))`` gives Meta the webhook URL
``/api/whatsapp/webhook`` (accounts found from the payload) or
``/api/whatsapp/webhook/<phone number id or WABA id>`` (one account per URL), the WhatsApp
Flows endpoint ``/api/whatsapp/flows/endpoint/`` (docs/flows.md), and the REST API beside
it (``send``, ``conversations``, ...: docs/api.md). Every path answers with and without a
trailing slash."""

from django.urls import path

from .api.urls import urlpatterns as api_urlpatterns
from .views.flows import FlowEndpointView
from .views.metrics import metrics_view
from .views.webhook import WhatsAppWebhookView

app_name = "wacloud"

urlpatterns = [
    path("webhook/", WhatsAppWebhookView.as_view(), name="webhook"),
    path("webhook", WhatsAppWebhookView.as_view(), name="webhook-no-slash"),
    path("webhook/<str:phone_number_id>/", WhatsAppWebhookView.as_view(), name="webhook-account"),
    path("webhook/<str:phone_number_id>", WhatsAppWebhookView.as_view(), name="webhook-account-no-slash"),
    # WhatsApp Flows' data-exchange endpoint (a Flow's endpoint_uri; docs/flows.md).
    path("flows/endpoint/", FlowEndpointView.as_view(), name="flows-endpoint"),
    path("flows/endpoint", FlowEndpointView.as_view(), name="flows-endpoint-no-slash"),
    path("flows/endpoint/<str:phone_number_id>/", FlowEndpointView.as_view(), name="flows-endpoint-account"),
    path(
        "flows/endpoint/<str:phone_number_id>",
        FlowEndpointView.as_view(),
        name="flows-endpoint-account-no-slash",
    ),
    # Prometheus (opt-in: WACLOUD["METRICS"]; docs/operations.md).
    path("metrics/", metrics_view, name="metrics"),
    path("metrics", metrics_view, name="metrics-no-slash"),
    *api_urlpatterns,
]
