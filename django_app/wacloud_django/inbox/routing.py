"""The inbox's WebSocket route for an ASGI project (docs/inbox.md, "Live updates")::

# asgi.py
from django.core.asgi import get_asgi_application

django_application = get_asgi_application()  # sets Django up before the routes import models
from wacloud_django.inbox.routing import inbox_application  # noqa: E402

application = inbox_application(django_application)
"""

from __future__ import annotations

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from .consumers import InboxConsumer

websocket_urlpatterns = [path("inbox/ws/", InboxConsumer.as_asgi())]


def inbox_application(http_application: Any) -> ProtocolTypeRouter:
    """Django's HTTP application, and the inbox's socket behind the session login. The socket
    rides on the session cookie, so its ``Origin`` must be one of ``ALLOWED_HOSTS``: another
    site's page cannot open it in a member's browser."""
    return ProtocolTypeRouter(
        {
            "http": http_application,
            "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
        }
    )
