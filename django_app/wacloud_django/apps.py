from django.apps import AppConfig


class WacloudConfig(AppConfig):
    name = "wacloud_django"
    label = "wacloud"
    verbose_name = "WhatsApp Cloud"
    default_auto_field = "django.db.models.BigAutoField"
