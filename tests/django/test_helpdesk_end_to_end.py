"""Issue 12's help desk from end to end, as seed 004 describes it: a customer opens a ticket on
WhatsApp, sends a photo, uses every command, gets the agent's replies and notifications, and
the ticket is resolved. Inbound through signed webhooks, outbound through the sandbox as Meta,
agents through the REST API. Runs on SQLite and (CI) PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest
from api_support import Api, error_code, member
from test_helpdesk import enable, replies, writes
from wacloud_test_helpers import USER, envelope

from wacloud_django.helpdesk.config import DEFAULT_TEXTS, help_text
from wacloud_django.models import MediaFile, Message, Ticket

pytestmark = pytest.mark.django_db

PT = DEFAULT_TEXTS["pt"]


def created(number):
    return PT["created"].format(number=number)


def test_a_customer_conversation_from_first_message_to_resolution(
    post_webhook, sandbox, settings, account, client, django_capture_on_commit_callbacks
):
    enable(settings, LANGUAGE="pt")
    settings.WACLOUD = {**settings.WACLOUD, "MEDIA_DOWNLOAD": True}
    agent = member(account.organization, "agent", "bia", first_name="Bia")
    api = Api(client, agent)

    def agent_patch(changes):
        with django_capture_on_commit_callbacks(execute=True):
            answer = api.call("PATCH", "tickets/1", changes)
        assert answer.status_code == 200, answer.content

    # The customer writes: ticket #1 and seed 004's confirmation.
    first = writes(post_webhook, sandbox, "Meu computador não está ligando")
    writes(post_webhook, sandbox, "/ajuda")
    writes(post_webhook, sandbox, "Já tentei reiniciar mas não funcionou")
    # A photo: downloaded from Meta (the sandbox), its SHA-256 checked, stored, attached.
    photo = os.urandom(4096)
    inbound = sandbox.inject_inbound(
        **{"from": USER}, name="Ana", type="image", mime_type="image/jpeg", caption="a tela",
        data=base64.b64encode(photo).decode(),
    )  # fmt: skip
    assert post_webhook(envelope({"messages": [inbound], "contacts": [{"wa_id": USER}]})).status_code == 200
    writes(post_webhook, sandbox, "/status")

    # The agent answers in the ticket's conversation, takes the ticket and resolves it.
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post("send", {"to": USER, "type": "text", "ticketId": "1",
                                   "content": {"text": "Vamos verificar a fonte."}})  # fmt: skip
    assert answer.status_code == 200, answer.content
    agent_patch({"assignee": agent.pk})
    writes(post_webhook, sandbox, "Obrigado!")
    agent_patch({"status": "resolved"})
    writes(post_webhook, sandbox, "/status")

    # A new ticket, cancelled; an unknown command gets the help.
    writes(post_webhook, sandbox, "/novo")
    writes(post_webhook, sandbox, "A impressora também parou")
    writes(post_webhook, sandbox, "/cancelar")
    writes(post_webhook, sandbox, "/xyz")

    assert replies(sandbox) == [
        created(1),
        help_text(),
        "Chamado #1: aberto",
        "Vamos verificar a fonte.",
        "Bia agora está cuidando do seu chamado #1.",
        "Seu chamado #1 foi resolvido. Responda se precisar de algo mais.",
        "Chamado #1: resolvido",
        PT["new"],
        created(2),
        "Conversa cancelada. O chamado #2 foi fechado.",
        help_text(),
    ]
    assert "/ajuda" in help_text() and "/novo" in help_text() and "/cancelar" in help_text()

    one, two = Ticket.objects.order_by("number")
    assert (one.status, one.assignee, one.message) == ("resolved", agent, first) and one.closed_at
    assert (two.status, two.subject) == ("closed", "A impressora também parou")
    thread = [(c.author, c.text) for c in one.comments.order_by("created_at", "pk")]
    assert thread == [
        ("customer", "Meu computador não está ligando"),
        ("customer", "Já tentei reiniciar mas não funcionou"),
        ("customer", "a tela"),
        ("agent", "Vamos verificar a fonte."),
        ("system", "Customer notified (assigned, text)."),
        ("customer", "Obrigado!"),
        ("system", "Customer notified (resolved, text)."),
    ]
    media = MediaFile.objects.get()
    assert one.comments.get(text="a tela").attachment == media
    assert media.download_status == "downloaded" and media.sha256 == hashlib.sha256(photo).hexdigest()
    with media.file.open("rb") as handle:
        assert handle.read() == photo
    agent_reply = one.comments.get(author="agent")
    assert agent_reply.user == agent and agent_reply.message.wamid == answer.json()["messageId"]
    # Every reply went out through the outbound service, referencing its ticket.
    outbound = Message.objects.filter(direction="outbound").order_by("pk")
    assert all(m.status == "sent" for m in outbound) and outbound.count() == 11
    assert [m.reference for m in outbound] == ["1", "", "1", "1", "1", "1", "1", "1", "2", "2", ""]


def test_an_agent_reply_naming_a_ticket_goes_to_that_tickets_customer(
    post_webhook, sandbox, settings, account, client
):
    enable(settings, LANGUAGE="pt")
    writes(post_webhook, sandbox, "Meu computador não está ligando")
    api = Api(client, member(account.organization, "agent", "bia"))
    body = {"to": "5511999990002", "type": "text", "content": {"text": "Oi"}, "ticketId": "1"}
    refused = api.post("send", body)
    assert refused.status_code == 400 and error_code(refused) == "INVALID_PARAMETER"
    assert f"ticketId 1 is the conversation with +{USER}" in refused.json()["error"]
    assert Message.objects.filter(direction="outbound").count() == 1  # the confirmation only
    assert not Ticket.objects.get().comments.filter(author="agent").exists()
    # The customer's number in another spelling is the same conversation.
    accepted = api.post("send", {**body, "to": f"+{USER}"})
    assert accepted.status_code == 200, accepted.content
    assert Ticket.objects.get().comments.filter(author="agent").count() == 1
