"""Customers hear of their ticket's changes (helpdesk/services/notifications.py): a new status
(``updated``, ``resolved``) or assignee (``assigned``), once per change and only after the commit;
free text inside the 24-hour window, seed 004's templates outside it; consent applies. Driven by
agents' PATCHes of the tickets API, the customer through signed webhooks, the sandbox as Meta."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from api_support import Api, member
from django.db import transaction
from django.utils import timezone
from test_helpdesk import enable, replies, writes
from wacloud_test_helpers import USER

from wacloud_django.helpdesk.services.tickets import update_ticket
from wacloud_django.models import Message, Template, Ticket, TicketComment
from wacloud_django.services.default_templates import register_default_templates

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(sandbox, settings, account, post_webhook):
    """The help desk on, in Portuguese; Ana (the customer) has opened ticket #1."""
    enable(settings, LANGUAGE="pt")
    writes(post_webhook, sandbox, "Meu computador não está ligando")
    return sandbox


@pytest.fixture
def agent(client, account):
    user = member(account.organization, "agent", "bia", first_name="Bia", last_name="Souza")
    return user, Api(client, user)


def patch(api, changes, django_capture_on_commit_callbacks, number=1):
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.call("PATCH", f"tickets/{number}", changes)
    assert answer.status_code == 200, answer.content
    return answer


def notes(ticket_number=1):
    rows = TicketComment.objects.filter(ticket__number=ticket_number, author=TicketComment.Author.SYSTEM)
    return list(rows.order_by("pk").values_list("text", flat=True))


def test_status_and_assignee_changes_reach_the_customer_as_text_inside_the_window(
    desk, agent, django_capture_on_commit_callbacks
):
    user, api = agent
    patch(api, {"status": "pending"}, django_capture_on_commit_callbacks)
    patch(api, {"assignee": user.pk, "priority": "high"}, django_capture_on_commit_callbacks)
    patch(api, {"status": "resolved"}, django_capture_on_commit_callbacks)
    assert replies(desk)[1:] == [
        "Seu chamado #1 foi atualizado: pendente.",
        "Bia Souza agora está cuidando do seu chamado #1.",
        "Seu chamado #1 foi resolvido. Responda se precisar de algo mais.",
    ]
    assert notes() == [
        "Customer notified (updated, text).", "Customer notified (assigned, text).",
        "Customer notified (resolved, text).",
    ]  # fmt: skip
    sent = Message.objects.filter(direction="outbound").order_by("pk")
    assert [m.reference for m in sent] == ["1"] * 4 and all(m.status == "sent" for m in sent)


def test_a_change_is_notified_once_and_a_priority_alone_says_nothing(
    desk, agent, django_capture_on_commit_callbacks
):
    user, api = agent
    patch(api, {"status": "pending"}, django_capture_on_commit_callbacks)
    patch(api, {"status": "pending"}, django_capture_on_commit_callbacks)  # no change
    patch(api, {"priority": "urgent"}, django_capture_on_commit_callbacks)
    patch(api, {"assignee": user.pk}, django_capture_on_commit_callbacks)
    patch(api, {"assignee": user.pk}, django_capture_on_commit_callbacks)  # no change
    patch(api, {"assignee": None}, django_capture_on_commit_callbacks)  # unassigned: nothing to say
    assert len(replies(desk)) == 3 and notes() == [
        "Customer notified (updated, text).", "Customer notified (assigned, text).",
    ]  # fmt: skip


def test_nothing_is_sent_for_a_change_that_is_rolled_back(desk, django_capture_on_commit_callbacks):
    ticket = Ticket.objects.get()
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        with transaction.atomic():
            update_ticket(ticket, {"status": "resolved"})
            raise RuntimeError("the agent's page failed after the update")
    assert callbacks == [] and len(replies(desk)) == 1 and notes() == []
    assert Ticket.objects.get().status == "open"


def test_outside_the_window_seed_004s_templates_are_sent(
    desk, agent, account, django_capture_on_commit_callbacks
):
    register_default_templates(account, ("pt_BR",))
    for name in ("ticket_updated", "ticket_assigned", "ticket_resolved"):
        desk.set_template_status(name, "APPROVED", language="pt_BR")
    Template.objects.update(status=Template.Status.APPROVED)
    user, api = agent
    desk.advance_clock(25 * 3600)
    with time_machine.travel(timezone.now() + timedelta(hours=25), tick=False):
        patch(api, {"status": "pending", "assignee": user.pk}, django_capture_on_commit_callbacks)
        patch(api, {"status": "resolved"}, django_capture_on_commit_callbacks)
    sent = [s["payload"]["template"] for s in desk.sent_messages(to=USER, type="template")]
    assert [(t["name"], t["language"]["code"]) for t in sent] == [
        ("ticket_updated", "pt_BR"), ("ticket_assigned", "pt_BR"), ("ticket_resolved", "pt_BR"),
    ]  # fmt: skip
    parameters = [[p["text"] for p in t["components"][0]["parameters"]] for t in sent]
    name = Ticket.objects.get().contact.name  # the profile name of Meta's webhook
    assert name and parameters == [[name, "1", "pendente"], [name, "Bia Souza", "1"], [name, "1"]]
    assert notes()[-1] == "Customer notified (resolved, template ticket_resolved (pt_BR))."
    assert len(replies(desk)) == 1  # no free text outside the window


def test_an_opted_out_customer_is_not_notified_and_the_thread_says_why(
    desk, agent, post_webhook, django_capture_on_commit_callbacks
):
    writes(post_webhook, desk, "PARAR")  # seed 004's customers stop in Portuguese
    _, api = agent
    patch(api, {"status": "resolved"}, django_capture_on_commit_callbacks)
    [note] = notes()
    assert note.startswith("Customer not notified (resolved): ")
    assert not [body for body in replies(desk) if "resolvido" in body]


def test_the_customers_own_cancel_is_not_notified_again(desk, post_webhook):
    writes(post_webhook, desk, "/cancelar")
    assert Ticket.objects.get().status == "closed"
    assert replies(desk)[1:] == ["Conversa cancelada. O chamado #1 foi fechado."] and notes() == []


def test_notifications_can_be_turned_off(desk, agent, settings, django_capture_on_commit_callbacks):
    enable(settings, LANGUAGE="pt", NOTIFY_STATUS_CHANGES=False)
    _, api = agent
    patch(api, {"status": "resolved"}, django_capture_on_commit_callbacks)
    assert len(replies(desk)) == 1 and notes() == []
