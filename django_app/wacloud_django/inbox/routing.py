"""The inbox's WebSocket route for an ASGI project (docs/inbox.md, "Live updates")::

application = ProtocolTypeRouter({
    "http": get_asgi_application(),
    "websocket": AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
})
"""

from django.urls import path

from .consumers import InboxConsumer

websocket_urlpatterns = [path("inbox/ws/", InboxConsumer.as_asgi())]
