"""The inbox's live events over a WebSocket (Django Channels, in-memory layer): members of
the organization receive its new messages, statuses and conversation changes; others are
refused. Driven through signed webhooks, like the rest of the suite."""

from __future__ import annotations

import json

import pytest
from api_support import member, tenant_a, tenant_b
from api_test_helpers import CUSTOMER, customer_writes
from asgiref.sync import async_to_sync, sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.test import override_settings
from wacloud_test_helpers import status_update

from wacloud_django.models import Conversation

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def layer(settings):
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


def socket(user, organization: str = "") -> ApplicationCommunicator:
    from wacloud_django.inbox.consumers import InboxConsumer

    scope = {"type": "websocket", "path": "/inbox/ws/", "headers": [], "subprotocols": [], "user": user,
             "query_string": f"organization={organization}".encode() if organization else b""}  # fmt: skip
    return ApplicationCommunicator(InboxConsumer.as_asgi(), scope)


async def opened(communicator: ApplicationCommunicator) -> dict:
    await communicator.send_input({"type": "websocket.connect"})
    return await communicator.receive_output(timeout=5)


async def event(communicator: ApplicationCommunicator) -> dict:
    output = await communicator.receive_output(timeout=5)
    assert output["type"] == "websocket.send", output
    return json.loads(output["text"])


def test_members_receive_messages_statuses_and_conversation_changes(layer, sandbox, account, post_webhook):
    viewer = member(account.organization, "viewer")

    async def run() -> None:
        communicator = socket(viewer)
        assert (await opened(communicator))["type"] == "websocket.accept"
        wamid = await sync_to_async(customer_writes)(sandbox, post_webhook, "live hello")
        received = await event(communicator)
        conversation = await sync_to_async(Conversation.objects.get)(contact__wa_id=CUSTOMER)
        assert received["event"] == "message" and received["conversation"] == conversation.pk
        assert received["direction"] == "inbound"
        # A status of an outbound message (read) reaches the same group.
        from wacloud_django.services.outbound import send_message

        sent = await sync_to_async(send_message)(account, CUSTOMER, "text", "answer", enqueue=False)
        await sync_to_async(post_webhook)(status_update(sent.wamid, "read"))
        statuses = [await event(communicator)]  # "sent" when the send succeeded, then Meta's "read"
        while statuses[-1].get("status") != "read":
            statuses.append(await event(communicator))
        assert statuses[-1] == {"event": "status", "conversation": conversation.pk, "message": sent.pk,
                                "status": "read"}  # fmt: skip
        # Archiving from the inbox, after its commit.
        from wacloud_django.services.inbox import archive_conversation

        await sync_to_async(_archive)(archive_conversation, conversation)
        change = await event(communicator)
        assert change == {"event": "conversation", "conversation": conversation.pk, "change": "archived"}
        assert wamid
        await communicator.send_input({"type": "websocket.disconnect", "code": 1000})

    async_to_sync(run)()


def _archive(archive_conversation, conversation) -> None:
    from django.db import transaction

    with transaction.atomic():
        archive_conversation(conversation)


def test_other_organizations_and_strangers_are_refused(layer, sandbox, django_user_model):
    a, b = tenant_a(), tenant_b()
    user_a = member(a.organization, "agent")
    stranger = django_user_model.objects.create_user("stranger-live")

    async def run() -> None:
        refused = await opened(socket(user_a, "org-b"))
        assert refused == {"type": "websocket.close", "code": 4404}
        assert await opened(socket(stranger)) == {"type": "websocket.close", "code": 4403}
        # A's member hears nothing of B: B's archive goes to B's group only.
        communicator = socket(user_a, "org-a")
        assert (await opened(communicator))["type"] == "websocket.accept"
        from wacloud_django.services.inbox import archive_conversation

        await sync_to_async(_archive)(archive_conversation, b.conversation)
        assert await communicator.receive_nothing(timeout=0.5)
        await sync_to_async(_archive)(archive_conversation, a.conversation)
        assert (await event(communicator))["conversation"] == a.conversation.pk
        await communicator.send_input({"type": "websocket.disconnect", "code": 1000})

    async_to_sync(run)()


def test_without_a_channel_layer_nothing_is_sent(settings):
    from channels.layers import channel_layers

    from wacloud_django.services.live_updates import publish

    settings.CHANNEL_LAYERS = {}
    channel_layers.backends.clear()
    assert publish(1, {"event": "message"}) is False


def test_pages_poll_at_the_set_period_only_while_no_socket_is_open(client, sandbox, settings):
    from wacloud_django.exceptions import SettingError

    a = tenant_a()
    client.force_login(member(a.organization, "viewer"))
    settings.WACLOUD = {**settings.WACLOUD, "INBOX_LIVE_URL": "/inbox/ws/", "INBOX_POLL_SECONDS": 10}
    listing = client.get("/inbox/").content.decode()
    assert 'data-live-url="/inbox/ws/"' in listing
    assert "every 10s [!document.body.dataset.live], wacloud:live from:body" in listing
    thread = client.get(f"/inbox/c/{a.conversation.pk}/thread/").content.decode()
    # The thread refreshes on its own conversation's events (and a reconnect), not on others'.
    assert f"wacloud:live[!detail.conversation || detail.conversation == {a.conversation.pk}]" in thread
    for wrong in (0, -1, "3", True, None):
        settings.WACLOUD = {**settings.WACLOUD, "INBOX_POLL_SECONDS": wrong}
        with pytest.raises(SettingError, match=r'WACLOUD\["INBOX_POLL_SECONDS"\] must be a positive number'):
            client.get("/inbox/")


def test_the_socket_refuses_another_sites_origin(layer, sandbox):
    from asgiref.testing import ApplicationCommunicator as Communicator

    from wacloud_django.inbox.routing import inbox_application

    async def opened_from(origin: bytes) -> dict:
        scope = {"type": "websocket", "path": "/inbox/ws/", "query_string": b"", "subprotocols": [],
                 "headers": [(b"origin", origin), (b"host", b"inbox.example")]}  # fmt: skip
        communicator = Communicator(inbox_application(None), scope)
        await communicator.send_input({"type": "websocket.connect"})
        return await communicator.receive_output(timeout=5)

    with override_settings(ALLOWED_HOSTS=["inbox.example"]):
        assert async_to_sync(opened_from)(b"https://evil.example")["type"] == "websocket.close"
        # The right origin gets past the check to the consumer, which refuses the anonymous user.
        assert async_to_sync(opened_from)(b"https://inbox.example") == {
            "type": "websocket.close",
            "code": 4403,
        }


@pytest.mark.parametrize("batch", [False, True], ids=["one body at a time", "batch processing"])
def test_a_burst_of_statuses_reaches_the_socket_whole_and_in_order(
    layer, sandbox, account, post_webhook, settings, batch
):
    """250 statuses in one body: more than the layer holds for a channel (100 messages) when
    each event is a message of its own; published together, every one arrives, in order."""
    from wacloud_test_helpers import USER, envelope

    from wacloud_django.models import Contact, Message
    from wacloud_django.services.webhook_batch import drain

    viewer = member(account.organization, "viewer")
    contact = Contact.objects.create(account=account, wa_id=USER)
    sent = {"account": account, "contact": contact, "direction": "outbound", "type": "text", "status": "sent"}
    messages = Message.objects.bulk_create(
        Message(**sent, wamid=f"wamid.burst{index:03}") for index in range(250)
    )
    statuses = [
        {"id": message.wamid, "status": "delivered", "timestamp": "1697043300", "recipient_id": USER}
        for message in messages
    ]
    if batch:
        settings.WACLOUD = {**settings.WACLOUD, "WEBHOOK_BATCH": {"ENABLED": True, "DRAIN": "command"}}

    async def run() -> None:
        communicator = socket(viewer)
        assert (await opened(communicator))["type"] == "websocket.accept"
        assert (await sync_to_async(post_webhook)(envelope({"statuses": statuses}))).status_code == 200
        if batch:
            await sync_to_async(drain)()
        received = [await event(communicator) for _ in messages]
        assert [item["message"] for item in received] == [message.pk for message in messages]
        assert {item["status"] for item in received} == {"delivered"}
        assert await communicator.receive_nothing(timeout=0.2)
        await communicator.send_input({"type": "websocket.disconnect", "code": 1000})

    async_to_sync(run)()


def test_events_published_together_go_out_per_organization_in_chunks(monkeypatch, caplog):
    from wacloud_django.services import live_updates

    sent = []

    class Layer:
        async def group_send(self, group: str, message: dict) -> None:
            if group == live_updates.group_name(1):
                raise RuntimeError("redis is down")
            sent.append((group, message["type"], [item["n"] for item in message["events"]]))

    monkeypatch.setattr(live_updates, "_channel_layer", Layer)
    with live_updates.publishing_together():
        assert all(live_updates.publish(2, {"n": n}) for n in range(250))
        assert live_updates.publish(1, {"n": -1})
        with live_updates.publishing_together():  # nested: sent with the outer block
            live_updates.publish(3, {"n": 0})
        assert sent == []
    two, three = live_updates.group_name(2), live_updates.group_name(3)
    assert sent == [
        (two, "inbox.events", list(range(100))),
        (two, "inbox.events", list(range(100, 200))),
        (two, "inbox.events", list(range(200, 250))),
        (three, "inbox.events", [0]),
    ]
    assert "redis is down" in caplog.text  # and organization 1's failure stopped none of the others
