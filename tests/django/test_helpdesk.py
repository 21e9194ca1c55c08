"""The help desk (docs/helpdesk.md), driven through signed webhooks with the sandbox as Meta:
tickets from first messages with seed 004's confirmation, comments, attachments, the
commands, session expiry on a controlled clock, custom backends, agent replies through
``POST send``, the tickets API and its tenancy, and the stats' ``ticketsCreated``."""

from __future__ import annotations

import time
from datetime import timedelta
from itertools import count
from unittest import mock

import pytest
from api_support import Api, member, tenant_a, tenant_b
from django.utils import timezone
from wacloud_test_helpers import USER, envelope, text_message

from wacloud_django import tasks
from wacloud_django.helpdesk.config import DEFAULT_TEXTS
from wacloud_django.helpdesk.services.tickets import open_ticket
from wacloud_django.models import (
    AuditEntry,
    Contact,
    HelpdeskSession,
    MediaFile,
    Message,
    Ticket,
    TicketComment,
)

pytestmark = pytest.mark.django_db

PT, EN = DEFAULT_TEXTS["pt"], DEFAULT_TEXTS["en"]
CHAMADO_1 = "✅ Chamado #1 criado com sucesso!\nRecebemos sua solicitação e nossa equipe responderá em breve."
_wamids = count()


def enable(settings, **helpdesk):
    settings.WACLOUD = {**settings.WACLOUD, "HELPDESK": {"ENABLED": True, **helpdesk}}


@pytest.fixture
def helpdesk(sandbox, settings, account):
    """The help desk on, in Portuguese (seed 004's language), the sandbox as Meta."""
    enable(settings, LANGUAGE="pt")
    return sandbox


def writes(post_webhook, sandbox, text, *, wa_id=USER, at=None):
    """The user sends ``text`` (at ``at``, default now): the sandbox opens its window and
    Meta's signed webhook reaches our intake. Returns the stored message."""
    sandbox.inject_inbound(**{"from": wa_id}, name="Ana", type="text", text=text)
    wamid = f"wamid.hd{next(_wamids)}"
    stamp = int((at or timezone.now()).timestamp())
    response = post_webhook(text_message(wamid, text, wa_id=wa_id, timestamp=stamp))
    assert response.status_code == 200
    return Message.objects.get(wamid=wamid)


def sends_photo(post_webhook, sandbox, caption="a foto do erro", wa_id=USER):
    sandbox.inject_inbound(**{"from": wa_id}, name="Ana", type="text", text="(photo)")
    wamid = f"wamid.hd{next(_wamids)}"
    image = {"id": "media-777", "mime_type": "image/jpeg", "sha256": "abc", "caption": caption}
    body = envelope({
        "messages": [{"from": wa_id, "id": wamid, "timestamp": str(int(time.time())), "type": "image",
                      "image": image}],
        "contacts": [{"profile": {"name": "Ana"}, "wa_id": wa_id}],
    })  # fmt: skip
    assert post_webhook(body).status_code == 200
    return Message.objects.get(wamid=wamid)


def replies(sandbox, wa_id=USER):
    return [sent["payload"]["text"]["body"] for sent in sandbox.sent_messages(to=wa_id, type="text")]


# -- tickets from messages ---------------------------------------------------------------------


def test_first_message_opens_a_ticket_and_the_portuguese_confirmation_reaches_the_user(
    post_webhook, helpdesk, account
):
    message = writes(post_webhook, helpdesk, "Meu computador não está ligando")
    ticket = Ticket.objects.get()
    contact = Contact.objects.get(wa_id=USER)
    assert (ticket.number, ticket.status, ticket.priority) == (1, "open", "normal")
    assert (ticket.contact, ticket.account, ticket.organization) == (contact, account, account.organization)
    assert ticket.subject == "Meu computador não está ligando" and ticket.message == message
    assert ticket.assignee is None
    assert ticket.sla_due_at == ticket.created_at + timedelta(hours=24)  # SLA_HOURS["normal"]
    [comment] = ticket.comments.all()
    assert (comment.author, comment.text, comment.message) == ("customer", message.text, message)
    assert replies(helpdesk) == [CHAMADO_1]
    confirmation = Message.objects.get(direction="outbound")
    assert (confirmation.status, confirmation.reference) == ("sent", "1")  # sent through send_message
    session = HelpdeskSession.objects.get()
    assert (session.contact, session.ticket_number, session.is_active) == (contact, "1", True)
    assert AuditEntry.objects.filter(action="ticket.create", object_id=str(ticket.pk)).exists()


def test_english_is_the_default_language_and_texts_are_configurable(post_webhook, sandbox, account, settings):
    enable(settings)
    writes(post_webhook, sandbox, "My laptop is broken")
    assert replies(sandbox) == [EN["created"].format(number=1)]
    enable(settings, TEXTS={"en": {"created": "Case {number} logged."}})
    writes(post_webhook, sandbox, "/new")
    writes(post_webhook, sandbox, "Printer on fire")
    assert replies(sandbox)[-1] == "Case 2 logged."


def test_later_messages_in_the_session_are_comments(post_webhook, helpdesk):
    first = writes(post_webhook, helpdesk, "Meu computador não está ligando")
    second = writes(post_webhook, helpdesk, "Já tentei reiniciar mas não funcionou")
    third = writes(post_webhook, helpdesk, "Alguma novidade?")
    ticket = Ticket.objects.get()
    assert [c.message for c in ticket.comments.all()] == [first, second, third]
    assert replies(helpdesk) == [CHAMADO_1]  # one confirmation, no answer to comments
    assert Ticket.objects.count() == 1


def test_a_redelivered_message_is_filed_once(post_webhook, helpdesk):
    helpdesk.inject_inbound(**{"from": USER}, name="Ana", type="text", text="oi")
    body = text_message("wamid.same", "oi", timestamp=int(time.time()))
    post_webhook(body)
    post_webhook(body)
    assert Ticket.objects.count() == 1 and TicketComment.objects.count() == 1
    assert replies(helpdesk) == [CHAMADO_1]


def test_media_is_attached_to_the_comment(post_webhook, helpdesk):
    writes(post_webhook, helpdesk, "A tela está assim")
    photo = sends_photo(post_webhook, helpdesk)
    comment = TicketComment.objects.get(message=photo)
    media = MediaFile.objects.get(message=photo)
    assert comment.attachment == media and media.media_id == "media-777"
    assert comment.text == "a foto do erro"  # the caption


def test_a_media_message_can_open_a_ticket_with_its_attachment(post_webhook, helpdesk):
    photo = sends_photo(post_webhook, helpdesk)
    ticket = Ticket.objects.get()
    assert ticket.comments.get().attachment == MediaFile.objects.get(message=photo)
    assert replies(helpdesk) == [CHAMADO_1]


def test_a_stop_keyword_is_consent_not_a_ticket(post_webhook, helpdesk):
    writes(post_webhook, helpdesk, "PARAR")
    assert not Ticket.objects.exists() and not HelpdeskSession.objects.exists()
    assert Contact.objects.get(wa_id=USER).opted_out is True
    assert len(replies(helpdesk)) == 1 and "descadastrado" in replies(helpdesk)[0]  # consent's reply only


def test_off_by_default(post_webhook, sandbox, account):
    writes(post_webhook, sandbox, "Meu computador não está ligando")
    assert not Ticket.objects.exists() and not HelpdeskSession.objects.exists()
    assert replies(sandbox) == []


def test_echoes_and_reactions_are_not_filed(post_webhook, helpdesk):
    writes(post_webhook, helpdesk, "oi")
    original = Message.objects.get(direction="inbound")
    reaction = envelope({
        "messages": [{"from": USER, "id": "wamid.react", "timestamp": str(int(time.time())),
                      "type": "reaction",
                      "reaction": {"message_id": original.wamid, "emoji": "👍"}}],
        "contacts": [{"profile": {"name": "Ana"}, "wa_id": USER}],
    })  # fmt: skip
    post_webhook(reaction)
    assert TicketComment.objects.count() == 1


# -- commands ----------------------------------------------------------------------------------

HELP_PT = (
    "Comandos disponíveis:\n/ajuda - mostrar os comandos disponíveis\n/status - ver o status do chamado\n"
    "/novo - abrir um novo chamado\n/cancelar - cancelar a conversa atual"
)


@pytest.mark.parametrize("word", ["/ajuda", "/help", "/AJUDA", "/xyz"])
def test_help_lists_the_commands_and_unknown_commands_get_it_too(post_webhook, helpdesk, word):
    writes(post_webhook, helpdesk, word)
    assert replies(helpdesk) == [HELP_PT]
    assert not Ticket.objects.exists() and not TicketComment.objects.exists()


def test_status_answers_the_current_tickets_number_and_status(post_webhook, helpdesk):
    writes(post_webhook, helpdesk, "/status")
    assert replies(helpdesk) == [PT["no_ticket"]]
    writes(post_webhook, helpdesk, "Meu computador não está ligando")
    writes(post_webhook, helpdesk, "/status")
    assert replies(helpdesk)[-1] == "Chamado #1: aberto"
    Ticket.objects.update(status="pending")
    writes(post_webhook, helpdesk, "/status")
    assert replies(helpdesk)[-1] == "Chamado #1: pendente"
    assert TicketComment.objects.count() == 1  # commands are not comments


def test_new_ends_the_session_and_the_next_message_opens_a_fresh_ticket(post_webhook, helpdesk):
    writes(post_webhook, helpdesk, "Primeiro problema")
    writes(post_webhook, helpdesk, "/novo")
    assert replies(helpdesk)[-1] == PT["new"]
    assert HelpdeskSession.objects.get().is_active is False
    assert Ticket.objects.get(number=1).status == "open"  # /novo leaves the ticket as it is
    writes(post_webhook, helpdesk, "Segundo problema")
    assert sorted(Ticket.objects.values_list("number", "subject")) == [
        (1, "Primeiro problema"),
        (2, "Segundo problema"),
    ]
    assert replies(helpdesk)[-1] == CHAMADO_1.replace("#1", "#2")
    assert HelpdeskSession.objects.get().ticket_number == "2"


def test_cancel_ends_the_session_and_closes_the_ticket(post_webhook, helpdesk):
    writes(post_webhook, helpdesk, "/cancelar")
    assert replies(helpdesk) == [PT["nothing_to_cancel"]]
    writes(post_webhook, helpdesk, "Meu computador não está ligando")
    writes(post_webhook, helpdesk, "/cancelar")
    ticket = Ticket.objects.get()
    assert ticket.status == "closed" and ticket.closed_at is not None
    assert replies(helpdesk)[-1] == "Conversa cancelada. O chamado #1 foi fechado."
    assert AuditEntry.objects.filter(action="ticket.update", changes__status=["open", "closed"]).exists()
    writes(post_webhook, helpdesk, "Outro problema")
    assert Ticket.objects.count() == 2


def test_command_words_are_configurable(post_webhook, helpdesk, settings):
    enable(settings, LANGUAGE="pt", COMMANDS={"status": ["/situacao"]})
    writes(post_webhook, helpdesk, "Oi")
    writes(post_webhook, helpdesk, "/situacao")
    assert replies(helpdesk)[-1] == "Chamado #1: aberto"
    writes(post_webhook, helpdesk, "/status")  # no longer a command word: the help text
    assert replies(helpdesk)[-1].startswith("Comandos disponíveis:\n")


def test_a_ticket_closed_by_an_agent_is_not_continued(post_webhook, helpdesk):
    writes(post_webhook, helpdesk, "Oi")
    Ticket.objects.update(status="closed")
    writes(post_webhook, helpdesk, "Voltou a acontecer")
    assert Ticket.objects.count() == 2


# -- sessions ----------------------------------------------------------------------------------


def at(moment):
    """The clock of everything (Django's ``timezone.now``) stopped at ``moment``."""
    return mock.patch("django.utils.timezone.now", return_value=moment)


def test_session_expires_after_24_hours_of_silence(post_webhook, helpdesk):
    start = timezone.now()
    with at(start):
        writes(post_webhook, helpdesk, "Primeiro", at=start)
    with at(start + timedelta(hours=23)):
        writes(post_webhook, helpdesk, "Ainda ativo", at=start + timedelta(hours=23))
    assert Ticket.objects.count() == 1 and TicketComment.objects.count() == 2
    # 23 h after the last message, not after the first: activity keeps the session alive.
    with at(start + timedelta(hours=46)):
        writes(post_webhook, helpdesk, "Continua", at=start + timedelta(hours=46))
    assert Ticket.objects.count() == 1
    later = start + timedelta(hours=46 + 24, minutes=1)
    with at(later):
        writes(post_webhook, helpdesk, "Depois de um dia", at=later)
    assert sorted(Ticket.objects.values_list("number", flat=True)) == [1, 2]
    assert replies(helpdesk)[-1] == CHAMADO_1.replace("#1", "#2")


def test_session_timeout_is_configurable(post_webhook, helpdesk, settings):
    enable(settings, LANGUAGE="pt", SESSION_TIMEOUT_HOURS=1)
    start = timezone.now()
    with at(start):
        writes(post_webhook, helpdesk, "Primeiro", at=start)
    with at(start + timedelta(minutes=61)):
        writes(post_webhook, helpdesk, "Segundo", at=start + timedelta(minutes=61))
    assert Ticket.objects.count() == 2


def test_cleanup_task_deletes_expired_sessions_only(post_webhook, helpdesk, settings):
    start = timezone.now()
    with at(start):
        writes(post_webhook, helpdesk, "Ana escreve", at=start)
    with at(start + timedelta(hours=20)):
        writes(post_webhook, helpdesk, "Bo escreve", wa_id="5511999990002", at=start + timedelta(hours=20))
    with at(start + timedelta(hours=25)):
        assert tasks.cleanup_helpdesk_sessions() == 1
    assert list(HelpdeskSession.objects.values_list("contact__wa_id", flat=True)) == ["5511999990002"]
    with at(start + timedelta(hours=25)):
        writes(post_webhook, helpdesk, "/status", at=start + timedelta(hours=25))
    assert replies(helpdesk)[-1] == PT["no_ticket"]  # the expired session is gone


# -- custom backends ---------------------------------------------------------------------------


class RecordingBackend:
    """A backend keeping tickets in a list (a stand-in for an external service desk)."""

    calls: list[tuple] = []
    statuses: dict[str, str] = {}

    def create_ticket(self, account, contact, message):
        self.calls.append(("create", contact.wa_id, message.text))
        self.statuses["EXT-9"] = "open"
        return "EXT-9"

    def add_comment(
        self, account, number, *, text, message=None, attachment=None, author="customer", user=None
    ):
        self.calls.append(("comment", number, text, author))
        return number in self.statuses

    def get_status(self, account, number):
        return self.statuses.get(number)

    def close(self, account, number):
        self.calls.append(("close", number))
        self.statuses[number] = "closed"


def test_a_custom_backend_by_dotted_path(post_webhook, helpdesk, settings):
    RecordingBackend.calls, RecordingBackend.statuses = [], {}
    enable(settings, LANGUAGE="pt", BACKEND=f"{__name__}.RecordingBackend")
    writes(post_webhook, helpdesk, "Sem internet")
    writes(post_webhook, helpdesk, "Ainda sem")
    writes(post_webhook, helpdesk, "/status")
    writes(post_webhook, helpdesk, "/cancelar")
    assert RecordingBackend.calls == [
        ("create", USER, "Sem internet"), ("comment", "EXT-9", "Ainda sem", "customer"), ("close", "EXT-9"),
    ]  # fmt: skip
    assert replies(helpdesk) == [
        CHAMADO_1.replace("#1", "#EXT-9"),
        "Chamado #EXT-9: aberto",
        "Conversa cancelada. O chamado #EXT-9 foi fechado.",
    ]
    assert not Ticket.objects.exists()  # nothing in the built-in tables


# -- agent replies -----------------------------------------------------------------------------


def test_send_with_ticket_id_adds_the_agents_comment(post_webhook, helpdesk, client, account):
    writes(post_webhook, helpdesk, "Meu computador não está ligando")
    agent = member(account.organization, "agent", "bia")
    api = Api(client, agent)
    answer = api.post(
        "send", {"to": USER, "type": "text", "content": {"text": "Já verificamos"}, "ticketId": 1}
    )
    assert answer.status_code == 200, answer.content
    comment = TicketComment.objects.get(author="agent")
    assert (comment.text, comment.user, comment.ticket.number) == ("Já verificamos", agent, 1)
    assert comment.message == Message.objects.get(pk=answer.json()["id"])
    # A number the organization has no ticket for: sent, stored with its reference, no comment.
    api.post("send", {"to": USER, "type": "text", "content": {"text": "Outro"}, "ticketId": 999})
    assert TicketComment.objects.filter(author="agent").count() == 1


def test_send_with_ticket_id_adds_nothing_while_the_help_desk_is_off(sandbox, client, account):
    sandbox.inject_inbound(**{"from": USER}, name="Ana", type="text", text="oi")
    contact = Contact.objects.create(account=account, wa_id=USER, last_inbound_at=timezone.now())
    open_ticket(account, contact, None)
    from wacloud_django.models import Conversation

    Conversation.objects.create(account=account, contact=contact,
                                service_window_expires_at=timezone.now() + timedelta(hours=20))  # fmt: skip
    api = Api(client, member(account.organization, "agent", "bia"))
    answer = api.post("send", {"to": USER, "type": "text", "content": {"text": "Oi"}, "ticketId": 1})
    assert answer.status_code == 200, answer.content
    assert not TicketComment.objects.exists()


# -- REST --------------------------------------------------------------------------------------


@pytest.fixture
def tenants(db):
    return tenant_a(), tenant_b()


def test_tickets_list_filters_and_is_scoped(client, tenants, settings):
    a, b = tenants
    other = Contact.objects.create(account=a.account, wa_id="972500000055")
    second = Ticket.objects.create(organization=a.organization, account=a.account, contact=other, number=50,
                                   status="pending")  # fmt: skip
    api = Api(client, member(a.organization, "viewer"))
    listed = api.get("tickets").json()
    assert listed["success"] is True and {row["number"] for row in listed["results"]} == {a.ticket.number, 50}
    assert b.ticket.pk not in {row["id"] for row in listed["results"]}
    by_status = api.get("tickets", {"status": "pending"}).json()["results"]
    assert [row["number"] for row in by_status] == [50]
    by_contact = api.get("tickets", {"contact": other.wa_id}).json()["results"]
    assert [row["id"] for row in by_contact] == [second.pk]
    by_contact_id = api.get("tickets", {"contact": str(a.contact.pk)}).json()["results"]
    assert [row["id"] for row in by_contact_id] == [a.ticket.pk]
    assert by_contact[0]["contact"] == {"id": other.pk, "wa_id": other.wa_id, "name": ""}


def test_ticket_detail_has_its_comments_and_another_organizations_is_404(client, tenants):
    a, b = tenants
    TicketComment.objects.create(ticket=a.ticket, text="primeira", message=a.inbound, attachment=a.media)
    api = Api(client, member(a.organization, "viewer"))
    ticket = api.get(f"tickets/{a.ticket.number}").json()["ticket"]
    assert ticket["number"] == a.ticket.number and ticket["status"] == "open"
    [comment] = ticket["comments"]
    assert (comment["author"], comment["text"], comment["whatsapp_id"]) == (
        "customer",
        "primeira",
        a.inbound.wamid,
    )
    assert comment["attachment"]["media_id"] == a.media.media_id
    assert api.get(f"tickets/{b.ticket.number}").status_code == 404
    assert api.get("tickets/abc").status_code == 404


def test_patch_ticket_needs_an_agent_and_is_audited(client, tenants):
    a, b = tenants
    viewer = Api(client, member(a.organization, "viewer"))
    assert viewer.call("PATCH", f"tickets/{a.ticket.number}", {"status": "pending"}).status_code == 403
    agent_user = member(a.organization, "agent")
    agent = Api(client, agent_user)
    answer = agent.call("PATCH", f"tickets/{a.ticket.number}",
                        {"status": "resolved", "priority": "urgent", "assignee": agent_user.pk})  # fmt: skip
    assert answer.status_code == 200, answer.content
    ticket = answer.json()["ticket"]
    assert (ticket["status"], ticket["priority"]) == ("resolved", "urgent")
    assert ticket["assignee"] == {"id": agent_user.pk, "username": agent_user.username}
    a.ticket.refresh_from_db()
    assert a.ticket.sla_due_at == a.ticket.created_at + timedelta(hours=2)  # SLA_HOURS["urgent"]
    entry = AuditEntry.objects.get(action="ticket.update")
    assert entry.actor == agent_user and entry.organization == a.organization
    assert entry.changes["status"] == ["open", "resolved"] and entry.changes["assignee"] == [
        None,
        agent_user.pk,
    ]
    # A user of another organization cannot be assigned; another organization's ticket is a 404.
    outsider = member(b.organization, "agent")
    refused = agent.call("PATCH", f"tickets/{a.ticket.number}", {"assignee": outsider.pk})
    assert refused.status_code == 400
    assert agent.call("PATCH", f"tickets/{b.ticket.number}", {"status": "closed"}).status_code == 404
    b.ticket.refresh_from_db()
    assert b.ticket.status == "open"
    assert agent.call("PATCH", f"tickets/{a.ticket.number}", {"status": "lost"}).status_code == 400


# -- stats -------------------------------------------------------------------------------------


def test_stats_count_the_organizations_tickets_when_enabled(client, tenants, settings):
    a, _ = tenants
    api = Api(client, member(a.organization, "viewer"))
    assert api.get("stats", {"days": 7}).json()["stats"]["ticketsCreated"] is None  # off
    enable(settings)
    open_ticket(a.account, a.contact, None)
    Ticket.objects.create(organization=a.organization, account=a.account, contact=a.contact, number=77,
                          created_at=timezone.now() - timedelta(days=10))  # fmt: skip
    # A's seeded ticket and the one just opened; not the old one, not B's.
    assert api.get("stats", {"days": 7}).json()["stats"]["ticketsCreated"] == 2


# -- admin -------------------------------------------------------------------------------------


def test_admin_shows_the_staffs_tickets_and_saves_through_the_service(client, tenants):
    from django.contrib.auth.models import Permission
    from django.urls import reverse

    a, b = tenants
    TicketComment.objects.create(ticket=a.ticket, text="primeira")
    staff = member(a.organization, "admin", username="staff-a", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="wacloud"))
    client.force_login(staff)
    listed = client.get(reverse("admin:wacloud_ticket_changelist"))
    assert {row.pk for row in listed.context["cl"].result_list} == {a.ticket.pk}
    assert client.get(reverse("admin:wacloud_ticket_change", args=[b.ticket.pk])).status_code in (302, 404)
    page = client.get(reverse("admin:wacloud_ticket_change", args=[a.ticket.pk]))
    assert page.status_code == 200 and "primeira" in page.content.decode()
    form = {"status": "pending", "priority": "high", "assignee": "",
            "comments-TOTAL_FORMS": "1", "comments-INITIAL_FORMS": "1", "comments-MIN_NUM_FORMS": "0",
            "comments-MAX_NUM_FORMS": "1000", "comments-0-id": str(a.ticket.comments.get().pk),
            "comments-0-ticket": str(a.ticket.pk)}  # fmt: skip
    saved = client.post(reverse("admin:wacloud_ticket_change", args=[a.ticket.pk]), form)
    assert saved.status_code == 302, saved.content.decode()[:3000]
    a.ticket.refresh_from_db()
    assert (a.ticket.status, a.ticket.priority) == ("pending", "high")
    entry = AuditEntry.objects.get(action="ticket.update")
    assert (entry.source, entry.actor, entry.changes["status"]) == ("admin", staff, ["open", "pending"])
    assert client.get(reverse("admin:wacloud_helpdesksession_changelist")).status_code == 200


# -- settings checks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("helpdesk", "named"),
    [
        ({"SESSION_TIMEOUT_HOURS": 0}, "SESSION_TIMEOUT_HOURS"),
        ({"COMMANDS": {"stop": ["/stop"]}}, "COMMANDS"),
        ({"COMMANDS": {"help": "/help"}}, "COMMANDS"),
        ({"TEXTS": ["no"]}, "TEXTS"),
        ({"BACKEND": "no.such.Backend"}, "BACKEND"),
    ],
)
def test_manage_py_check_names_the_wrong_helpdesk_setting(settings, helpdesk, named):
    from wacloud_django.checks import check_settings

    settings.WACLOUD = {**settings.WACLOUD, "HELPDESK": {"ENABLED": True, **helpdesk}}
    errors = [error for error in check_settings() if error.id == "wacloud.E017"]
    assert errors and any(f'["HELPDESK"]["{named}"]' in error.msg for error in errors), errors


def test_default_helpdesk_settings_pass_the_checks(settings):
    from wacloud_django.checks import check_settings

    assert not [error for error in check_settings() if error.id == "wacloud.E017"]


# -- concurrency (PostgreSQL) ------------------------------------------------------------------


@pytest.mark.serial
@pytest.mark.django_db(transaction=True)
def test_concurrent_messages_open_one_ticket_per_contact_and_distinct_numbers(account, settings):
    """Four first messages of one contact at once: one ticket, the others comments. Four other
    contacts at once: a ticket each, numbered apart (the unique number makes a loser retry)."""
    import threading

    from django.db import connection

    from wacloud_django.helpdesk.services.intake import handle_message

    if connection.vendor != "postgresql":
        pytest.skip("about row locks: run with WACLOUD_TEST_DATABASE_URL (SQLite's threads lock the table)")
    enable(settings, TEXTS={"en": {"created": ""}})  # no replies: no Meta to send them to here
    ana = Contact.objects.create(account=account, wa_id=USER)
    others = [Contact.objects.create(account=account, wa_id=f"55119999900{n:02d}") for n in range(4)]
    senders = [ana] * 4 + others
    messages = [
        Message.objects.create(account=account, contact=contact, direction="inbound", type="text",
                               text=f"m{index}", status="received", wamid=f"wamid.race{index}")
        for index, contact in enumerate(senders)
    ]  # fmt: skip
    barrier, failures = threading.Barrier(len(messages)), []

    def work(message, contact):
        try:
            barrier.wait(timeout=10)
            handle_message(message, contact, account)
        except Exception as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=pair) for pair in zip(messages, senders, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert Ticket.objects.filter(contact=ana).count() == 1
    assert TicketComment.objects.filter(ticket__contact=ana).count() == 4
    assert sorted(Ticket.objects.values_list("number", flat=True)) == [1, 2, 3, 4, 5]
    assert HelpdeskSession.objects.count() == 5
