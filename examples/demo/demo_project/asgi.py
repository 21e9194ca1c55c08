"""The demo's ASGI application (``make serve`` runs it under uvicorn): Django's pages, with
the static files served as ``runserver`` would (development only), and the web inbox's
WebSocket, so the inbox's pages are pushed each new message and status (docs/inbox.md)."""

from __future__ import annotations

import os

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_project.settings")
django_application = get_asgi_application()  # sets Django up before the routes import models

from wacloud_django.inbox.routing import inbox_application  # noqa: E402

application = inbox_application(ASGIStaticFilesHandler(django_application))
