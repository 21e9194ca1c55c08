"""Django app for the WhatsApp Business Cloud API (app label ``wacloud``)."""

from django.apps import AppConfig


class WacloudConfig(AppConfig):
    name = "wacloud_django"
    label = "wacloud"
    verbose_name = "WhatsApp Cloud"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Only wiring: registering the checks and the signals module. No queries, no settings reads.
        # metrics: the counters' signal receivers (only when prometheus_client is installed).
        from . import checks, metrics, signals  # noqa: F401
        from .automation import receivers as _automation  # noqa: F401  (customer support rules)
        from .helpdesk import receivers  # noqa: F401  (the help desk's message_received receiver)
