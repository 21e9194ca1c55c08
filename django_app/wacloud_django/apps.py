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
        from .automation import campaign_receivers as _campaigns  # noqa: F401  (campaign statuses, replies)
        from .automation import receivers as _automation  # noqa: F401  (customer support rules)
        from .automation import schedule_receivers as _scheduled  # noqa: F401  (follow-up sequences)
        from .correlation import connect_celery
        from .helpdesk import receivers  # noqa: F401  (the help desk's message_received receiver)
        from .log_privacy import install

        install()  # the privacy and correlation id filters on the wacloud loggers (no handlers)
        connect_celery()  # the correlation id travels into the tasks queued under it
        from .services import live_updates

        live_updates.connect()  # the inbox's live events (a no-op without a channel layer)
