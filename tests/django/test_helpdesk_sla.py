"""SLA warnings (helpdesk/services/sla.py, the ``send_sla_warnings`` task) on a controlled
clock with the sandbox as Meta: once per ticket, only within ``SLA_WARNING_MINUTES`` of the
due time, never for resolved tickets, free text inside the 24-hour window and the
``sla_warning`` template outside it."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from wacloud_test_helpers import USER

from wacloud_django import tasks
from wacloud_django.helpdesk.services import sla
from wacloud_django.helpdesk.services.tickets import open_ticket, update_ticket
from wacloud_django.models import Contact, Message, Template, Ticket, TicketComment
from wacloud_django.services.default_templates import register_default_templates

pytestmark = pytest.mark.django_db

NOTHING = {"text": 0, "template": 0, "failed": 0}


def at(moment):
    """The clock of everything (Django's ``timezone.now``) stopped at ``moment``."""
    return mock.patch("django.utils.timezone.now", return_value=moment)


@pytest.fixture
def helpdesk(sandbox, settings, account):
    settings.WACLOUD = {**settings.WACLOUD, "HELPDESK": {"ENABLED": True, "LANGUAGE": "pt"}}
    return sandbox


@pytest.fixture
def start():
    return timezone.now()


@pytest.fixture
def ticket(helpdesk, account, start):
    """A normal-priority ticket opened at ``start``: due 24 hours later."""
    contact = Contact.objects.create(account=account, wa_id=USER, name="Ana")
    with at(start):
        opened = open_ticket(account, contact, None)
    assert opened.sla_due_at == start + timedelta(hours=24)
    return opened


def window_open(sandbox, ticket, moment):
    """The customer wrote an hour before ``moment`` (in our database and at the sandbox)."""
    sandbox.inject_inbound(**{"from": USER}, name="Ana", type="text", text="oi")
    Contact.objects.filter(pk=ticket.contact_id).update(last_inbound_at=moment - timedelta(hours=1))


def approved_sla_template(sandbox, account, language="pt_BR"):
    register_default_templates(account, (language,))
    sandbox.set_template_status("sla_warning", "APPROVED", language=language)
    Template.objects.filter(name="sla_warning", language=language).update(status=Template.Status.APPROVED)


def sweep(moment, django_capture_on_commit_callbacks):
    with at(moment), django_capture_on_commit_callbacks(execute=True):
        return tasks.send_sla_warnings()


def warnings(ticket):
    return list(
        TicketComment.objects.filter(ticket=ticket, author=TicketComment.Author.SYSTEM).values_list(
            "text", flat=True
        )
    )


def test_warned_once_with_free_text_inside_the_window(
    helpdesk, ticket, start, django_capture_on_commit_callbacks
):
    moment = start + timedelta(hours=23, minutes=30)
    window_open(helpdesk, ticket, moment)
    assert sweep(moment, django_capture_on_commit_callbacks) == {**NOTHING, "text": 1}
    (sent,) = helpdesk.sent_messages(to=USER, type="text")
    due = timezone.localtime(ticket.sla_due_at)
    assert sent["payload"]["text"]["body"] == f"O chamado #1 vence às {due:%H:%M}: estamos trabalhando nele."
    (comment,) = warnings(ticket)
    assert comment.startswith("SLA warning sent (text): due at ")
    message = TicketComment.objects.get(ticket=ticket, author="system").message
    assert message.status == Message.Status.SENT and message.reference == "1"
    # Later sweeps (and a second scheduler running the same sweep) find the comment.
    assert sweep(moment + timedelta(minutes=1), django_capture_on_commit_callbacks) == NOTHING
    assert sla.warn_ticket(ticket.pk) is None
    assert len(helpdesk.sent_messages(to=USER)) == 1 and len(warnings(ticket)) == 1


def test_template_outside_the_window(helpdesk, account, ticket, start, django_capture_on_commit_callbacks):
    approved_sla_template(helpdesk, account)
    moment = start + timedelta(hours=23, minutes=10)
    assert sweep(moment, django_capture_on_commit_callbacks) == {**NOTHING, "template": 1}
    (sent,) = helpdesk.sent_messages(to=USER, type="template")
    template = sent["payload"]["template"]
    assert template["name"] == "sla_warning" and template["language"]["code"] == "pt_BR"
    due = f"{timezone.localtime(ticket.sla_due_at):%H:%M}"
    assert template["components"][0]["parameters"] == [
        {"type": "text", "text": "1"},
        {"type": "text", "text": due},
    ]
    (comment,) = warnings(ticket)
    assert comment.startswith("SLA warning sent (template sla_warning (pt_BR)): due at ")


def test_not_before_the_warning_window_nor_after_the_due_time(
    helpdesk, ticket, start, django_capture_on_commit_callbacks
):
    window_open(helpdesk, ticket, start + timedelta(hours=22))
    assert sweep(start + timedelta(hours=22, minutes=59), django_capture_on_commit_callbacks) == NOTHING
    assert sweep(start + timedelta(hours=24, minutes=1), django_capture_on_commit_callbacks) == NOTHING
    assert warnings(ticket) == [] and helpdesk.sent_messages(to=USER) == []
    assert sweep(start + timedelta(hours=23), django_capture_on_commit_callbacks)["text"] == 1


def test_warning_minutes_is_configurable(
    helpdesk, settings, ticket, start, django_capture_on_commit_callbacks
):
    settings.WACLOUD = {**settings.WACLOUD, "HELPDESK": {"ENABLED": True, "SLA_WARNING_MINUTES": 180}}
    moment = start + timedelta(hours=21, minutes=30)
    window_open(helpdesk, ticket, moment)
    assert sweep(moment, django_capture_on_commit_callbacks)["text"] == 1
    (sent,) = helpdesk.sent_messages(to=USER, type="text")
    assert sent["payload"]["text"]["body"].startswith("Ticket #1 is due at ")  # LANGUAGE unset: English
    settings.WACLOUD = {**settings.WACLOUD, "HELPDESK": {"ENABLED": True, "SLA_WARNING_MINUTES": 0}}
    with pytest.raises(ImproperlyConfigured, match=r'\["SLA_WARNING_MINUTES"\]'):
        sla.warning_lead_time()


def test_not_for_resolved_or_closed_tickets(helpdesk, ticket, start, django_capture_on_commit_callbacks):
    moment = start + timedelta(hours=23, minutes=30)
    window_open(helpdesk, ticket, moment)
    with at(start + timedelta(hours=1)):
        update_ticket(ticket, {"status": Ticket.Status.RESOLVED})
    assert sweep(moment, django_capture_on_commit_callbacks) == NOTHING
    with at(start + timedelta(hours=2)):
        update_ticket(ticket, {"status": Ticket.Status.PENDING})  # reopened, waiting on the customer
    assert sweep(moment, django_capture_on_commit_callbacks)["text"] == 1


def test_nothing_while_the_helpdesk_is_off(
    helpdesk, settings, ticket, start, django_capture_on_commit_callbacks
):
    settings.WACLOUD = {**settings.WACLOUD, "HELPDESK": {"ENABLED": False}}
    assert sweep(start + timedelta(hours=23, minutes=30), django_capture_on_commit_callbacks) == NOTHING


def test_a_refused_warning_is_recorded_and_not_retried(
    helpdesk, ticket, start, django_capture_on_commit_callbacks
):
    # Outside the window with the template still pending review: refused before anything is stored.
    Template.objects.create(
        waba_id=ticket.account.waba_id, name="sla_warning", language="pt_BR", status="PENDING"
    )
    moment = start + timedelta(hours=23, minutes=30)
    assert sweep(moment, django_capture_on_commit_callbacks) == {**NOTHING, "failed": 1}
    (comment,) = warnings(ticket)
    assert comment.startswith("SLA warning not sent: ") and "PENDING" in comment
    assert sweep(moment + timedelta(minutes=5), django_capture_on_commit_callbacks) == NOTHING
    assert helpdesk.sent_messages(to=USER) == [] and not Message.objects.filter(direction="outbound").exists()


def test_each_ticket_due_soon_is_warned(helpdesk, account, ticket, start, django_capture_on_commit_callbacks):
    other = Contact.objects.create(account=account, wa_id="5511999990002", name="Bo")
    with at(start + timedelta(minutes=20)):
        second = open_ticket(account, other, None)
    approved_sla_template(helpdesk, account)
    assert sweep(start + timedelta(hours=23, minutes=30), django_capture_on_commit_callbacks)["template"] == 2
    assert len(warnings(ticket)) == 1 and len(warnings(second)) == 1


@pytest.mark.serial
@pytest.mark.django_db(transaction=True)
def test_two_schedulers_at_once_warn_each_ticket_once(sandbox, settings, account):
    """Two beat schedulers running the sweep at the same moment: the ticket row lock and the
    comment guard make one of them send, the other find the comment."""
    import threading

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("about row locks: run with WACLOUD_TEST_DATABASE_URL (SQLite's threads lock the table)")
    settings.WACLOUD = {**settings.WACLOUD, "HELPDESK": {"ENABLED": True}}
    start = timezone.now()
    contacts = [Contact.objects.create(account=account, wa_id=f"55119999900{n:02d}") for n in range(3)]
    for contact in contacts:
        sandbox.inject_inbound(**{"from": contact.wa_id}, name="Ana", type="text", text="oi")
    Contact.objects.update(last_inbound_at=start)
    with at(start):
        tickets = [open_ticket(account, contact, None) for contact in contacts]
    barrier, results, failures = threading.Barrier(4), [], []

    def work():
        try:
            barrier.wait(timeout=10)
            results.append(tasks.send_sla_warnings())
        except Exception as exc:
            failures.append(exc)
        finally:
            connection.close()

    with at(start + timedelta(hours=23, minutes=30)):
        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert failures == []
    assert sum(result["text"] for result in results) == 3
    for ticket in tickets:
        assert len(warnings(ticket)) == 1
    assert Message.objects.filter(direction="outbound").count() == 3
