"""Settings of the demo project (``make demo``): SQLite in examples/demo/var/,
no Celery (webhooks are processed inline), ``WACLOUD["BASE_URL"]`` pointed at the
sandbox by run_demo.py through ``WACLOUD_DEMO_BASE_URL``, and served over ASGI with
the inbox's WebSocket (demo_project/asgi.py)."""

from __future__ import annotations

import os
from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("WACLOUD_DEMO_VAR_DIR", DEMO_DIR / "var"))

# Demo values only: never reuse them in a real project.
SECRET_KEY = "wacloud-demo-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "demo_project.urls"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
STATIC_URL = "static/"
MEDIA_ROOT = VAR_DIR / "media"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": VAR_DIR / "demo.sqlite3",
        # The runner and the server write to the same file: wait for each other, never fail.
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL;",
        },
    }
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "wacloud_django",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

WACLOUD = {
    "BASE_URL": os.environ.get("WACLOUD_DEMO_BASE_URL", "https://graph.facebook.com"),
    "ENCRYPTION_KEY": "d3" * 32,  # demo only: generate your own with secrets.token_hex(32)
    "USE_CELERY": False,
    # The help desk (docs/helpdesk.md): a customer's first message opens a ticket.
    "HELPDESK": {"ENABLED": True, "LANGUAGE": "en"},
    # The inbox's WebSocket (demo_project/asgi.py): pages are pushed each change.
    "INBOX_LIVE_URL": "/inbox/ws/",
}
# One server process: the in-memory layer reaches every socket. Several processes need
# Redis (channels-redis), or pushes from one never reach the sockets of another.
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
ASGI_APPLICATION = "demo_project.asgi.application"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"wacloud": {"handlers": ["console"], "level": "WARNING"}},
}
