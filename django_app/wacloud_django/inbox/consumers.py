"""The inbox's WebSocket (Django Channels): a member joins their organization's group and
receives its live events as JSON (services/live_updates.py). Needs ``channels`` and an ASGI
server; serve with ``wacloud_django.inbox.routing.inbox_application`` (docs/inbox.md)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import async_to_sync
from channels.generic.websocket import JsonWebsocketConsumer

from ..services import tenancy
from ..services.live_updates import group_name

#: Close codes: not logged in or not a member (4403), no such organization (4404).
FORBIDDEN, NOT_FOUND = 4403, 4404


class InboxConsumer(JsonWebsocketConsumer):
    group = ""

    def connect(self) -> None:
        user = self.scope.get("user")
        query = parse_qs(self.scope.get("query_string", b"").decode())
        wanted = (query.get("organization") or [""])[0] or None
        try:
            organization = tenancy.choose_organization(user, wanted)
        except tenancy.OrganizationRequired:
            self.close(code=NOT_FOUND if wanted else FORBIDDEN)
            return
        if not tenancy.has_role(user, organization, "read"):
            self.close(code=FORBIDDEN)
            return
        self.group = group_name(organization.pk)
        async_to_sync(self.channel_layer.group_add)(self.group, self.channel_name)
        self.accept()

    def disconnect(self, code: int) -> None:
        if self.group:
            async_to_sync(self.channel_layer.group_discard)(self.group, self.channel_name)

    def receive_json(self, content: Any, **kwargs: Any) -> None:
        """Clients only listen."""

    def inbox_event(self, message: dict[str, Any]) -> None:
        self.send_json(message["event"])

    def inbox_events(self, message: dict[str, Any]) -> None:
        """Events published together (services/live_updates.py): one frame each, in order."""
        for event in message["events"]:
            self.send_json(event)
