"""``path("whatsapp/", include("wacloud_django.urls"))`` gives Meta the webhook URL
``/whatsapp/webhook/`` (accounts found from the payload) or
``/whatsapp/webhook/<phone_number_id>/`` (one account per URL)."""

from django.urls import path

from .views.webhook import WhatsAppWebhookView

app_name = "wacloud"

urlpatterns = [
    path("webhook/", WhatsAppWebhookView.as_view(), name="webhook"),
    path("webhook/<str:phone_number_id>/", WhatsAppWebhookView.as_view(), name="webhook-account"),
]
