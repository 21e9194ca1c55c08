"""The Django project bench_intake.py serves with gunicorn and drains with
``whatsapp_process_webhooks`` (``DJANGO_SETTINGS_MODULE=intake_app``, this folder on the
path): wacloud's webhook at ``/whatsapp/webhook/`` (batch processing, drained by separate
processes only) and the plain baseline view at ``/baseline/``, on one PostgreSQL database
(``WACLOUD_BENCH_DATABASE_URL``, database ``wacloud_bench_intake``)."""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

from webhook_baseline import APP_SECRET

DATABASE_NAME = "wacloud_bench_intake"
_url = urlsplit(os.environ.get("WACLOUD_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"))

SECRET_KEY = "bench"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "intake_app"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Persistent connections: both variants keep one per worker, as a production deployment would.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "HOST": _url.hostname,
        "PORT": str(_url.port or ""),
        "USER": unquote(_url.username or ""),
        "PASSWORD": unquote(_url.password or ""),
        "CONN_MAX_AGE": None,
    }
}
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "wacloud_django"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
LOGGING_CONFIG = None
WACLOUD = {
    "APP_SECRET": APP_SECRET,
    "ENCRYPTION_KEY": "be" * 32,
    "USE_CELERY": False,
    "MEDIA_DOWNLOAD": False,
    "WEBHOOK_BATCH": {
        "ENABLED": True,
        "DRAIN": "command",
        "SIZE": int(os.environ.get("BENCH_BATCH_SIZE", "500")),
    },
}


if os.environ.get("BENCH_LIVE_UPDATES") == "redis":  # bench_intake.py --live-updates
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [os.environ.get("WACLOUD_BENCH_REDIS_URL", "redis://127.0.0.1:6379/2")]},
        }
    }


def _urls():
    from django.urls import include, path
    from webhook_baseline import baseline_view

    return [path("whatsapp/", include("wacloud_django.urls")), path("baseline/", baseline_view)]


def __getattr__(name):  # urlpatterns built on first use, once Django is set up
    if name == "urlpatterns":
        return _urls()
    if name == "application":
        from django.core.wsgi import get_wsgi_application

        globals()["application"] = app = get_wsgi_application()
        return app
    raise AttributeError(name)
