"""The django-helpdesk backend against the real package (the ``helpdesk`` extra): tickets in a
django-helpdesk queue, messages as follow-ups, stored media as follow-up attachments, agent
replies, /status and /cancel, and per-organization queues, driven through signed webhooks with
the sandbox as Meta.

django-helpdesk needs its apps in INSTALLED_APPS, so these tests run under
``helpdesk_settings`` (this folder): in the ordinary suite a single test runs this file in a
child pytest with those settings (on the same database engine) and fails with its output."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip(
    "helpdesk",
    reason='django-helpdesk is not installed: pip install "wacloud[helpdesk]" (the [test] extra has it)',
)

from django.conf import settings as django_settings

BACKEND = "wacloud_django.helpdesk.backends_django_helpdesk.DjangoHelpdeskBackend"

if "helpdesk" not in django_settings.INSTALLED_APPS:

    @pytest.mark.timeout(900)
    def test_the_django_helpdesk_backend_passes_under_its_settings():
        here = Path(__file__).resolve()
        # pytest-django imports the settings before conftest.py puts this folder on the path.
        path = os.pathsep.join(filter(None, [str(here.parent), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "helpdesk_settings", "PYTHONPATH": path}
        result = subprocess.run(
            [sys.executable, "-m", "pytest", str(here), "-q", "-p", "no:cacheprovider"],
            cwd=here.parents[2], env=env, capture_output=True, text=True, timeout=840,
        )  # fmt: skip
        output = result.stdout[-8000:] + result.stderr[-4000:]
        assert result.returncode == 0, output
        assert " passed" in result.stdout and " skipped" not in result.stdout, output

    def test_manage_py_check_names_what_the_backend_still_needs(settings):
        from django.core.management import call_command
        from django.core.management.base import SystemCheckError

        settings.WACLOUD = {**settings.WACLOUD, "HELPDESK": {"ENABLED": True, "BACKEND": BACKEND}}
        with pytest.raises(SystemCheckError, match=r"wacloud\.E017") as raised:
            call_command("check")
        assert 'add "helpdesk"' in str(raised.value)
        assert '["DJANGO_HELPDESK_QUEUE"] must be a queue slug' in str(raised.value)

else:
    from api_support import Api, member
    from django.core.exceptions import ImproperlyConfigured
    from helpdesk.models import FollowUp, FollowUpAttachment, Queue
    from helpdesk.models import Ticket as DeskTicket
    from test_helpdesk import enable, replies, writes
    from wacloud_test_helpers import USER, envelope

    from wacloud_django.helpdesk.backends import get_backend
    from wacloud_django.helpdesk.backends_django_helpdesk import DjangoHelpdeskBackend
    from wacloud_django.models import Contact, MediaFile, Organization, Ticket, TicketComment

    pytestmark = pytest.mark.django_db

    @pytest.fixture
    def desk(sandbox, settings, account):
        """The help desk on, in Portuguese, its tickets in django-helpdesk's "whatsapp" queue."""
        Queue.objects.create(title="WhatsApp", slug="whatsapp")
        enable(settings, LANGUAGE="pt", BACKEND=BACKEND, DJANGO_HELPDESK_QUEUE="whatsapp")
        return sandbox

    def confirmation(number):
        return (
            f"✅ Chamado #{number} criado com sucesso!\n"
            "Recebemos sua solicitação e nossa equipe responderá em breve."
        )

    def test_the_backend_is_configured_by_dotted_path_and_passes_the_checks(desk):
        from django.core.management import call_command

        assert isinstance(get_backend(), DjangoHelpdeskBackend)
        call_command("check")  # raises SystemCheckError on a problem

    def test_a_first_message_opens_a_django_helpdesk_ticket_and_later_ones_are_follow_ups(post_webhook, desk):
        first = writes(post_webhook, desk, "Meu computador não está ligando\nDesde ontem")
        ticket = DeskTicket.objects.get()
        assert (ticket.queue.slug, ticket.status) == ("whatsapp", DeskTicket.OPEN_STATUS)
        assert ticket.title == "Meu computador não está ligando"
        assert ticket.description == first.text
        assert replies(desk) == [confirmation(ticket.pk)]
        second = writes(post_webhook, desk, "Já tentei reiniciar")
        # Meta redelivers the second message: filed once.
        from wacloud_test_helpers import text_message

        post_webhook(text_message(second.wamid, second.text))
        rows = list(FollowUp.objects.filter(ticket=ticket).order_by("date", "pk"))
        assert [(f.comment, f.message_id, f.public) for f in rows] == [
            (first.text, first.wamid, True), ("Já tentei reiniciar", second.wamid, True),
        ]  # fmt: skip
        assert not Ticket.objects.exists() and not TicketComment.objects.exists()  # built-in tables unused

    def test_status_reads_the_django_helpdesk_ticket_and_cancel_closes_it(post_webhook, desk):
        writes(post_webhook, desk, "Sem internet")
        ticket = DeskTicket.objects.get()
        writes(post_webhook, desk, "/status")
        DeskTicket.objects.filter(pk=ticket.pk).update(status=DeskTicket.RESOLVED_STATUS)
        writes(post_webhook, desk, "/status")
        DeskTicket.objects.filter(pk=ticket.pk).update(status=DeskTicket.REOPENED_STATUS)
        writes(post_webhook, desk, "/cancelar")
        assert replies(desk)[1:] == [
            f"Chamado #{ticket.pk}: aberto", f"Chamado #{ticket.pk}: resolvido",
            f"Conversa cancelada. O chamado #{ticket.pk} foi fechado.",
        ]  # fmt: skip
        ticket.refresh_from_db()
        assert ticket.status == DeskTicket.CLOSED_STATUS
        closing = FollowUp.objects.filter(ticket=ticket).latest("pk")
        assert closing.new_status == DeskTicket.CLOSED_STATUS
        writes(post_webhook, desk, "De novo")  # the session ended: a new ticket
        assert DeskTicket.objects.count() == 2

    def test_stored_media_becomes_a_follow_up_attachment(post_webhook, desk, settings):
        enable(settings, LANGUAGE="pt", BACKEND=BACKEND, DJANGO_HELPDESK_QUEUE="whatsapp")
        settings.WACLOUD = {**settings.WACLOUD, "MEDIA_DOWNLOAD": True}
        writes(post_webhook, desk, "A tela está assim")
        photo = os.urandom(2048)
        inbound = desk.inject_inbound(
            **{"from": USER}, name="Ana", type="image", mime_type="image/jpeg", caption="a tela",
            data=base64.b64encode(photo).decode(),
        )  # fmt: skip
        assert (
            post_webhook(envelope({"messages": [inbound], "contacts": [{"wa_id": USER}]})).status_code == 200
        )
        media = MediaFile.objects.get()
        assert media.download_status == "downloaded" and media.sha256 == hashlib.sha256(photo).hexdigest()
        follow_up = FollowUp.objects.get(message_id=inbound["id"])
        attachment = FollowUpAttachment.objects.get(followup=follow_up)
        with attachment.file.open("rb") as handle:
            assert handle.read() == photo
        assert (follow_up.comment, attachment.mime_type, attachment.size) == (
            "a tela",
            "image/jpeg",
            len(photo),
        )

    def test_an_agent_reply_through_send_is_a_public_follow_up_by_the_agent(
        post_webhook, desk, client, account
    ):
        writes(post_webhook, desk, "Preciso de ajuda")
        ticket = DeskTicket.objects.get()
        agent = member(account.organization, "agent", "bia")
        answer = Api(client, agent).post(
            "send", {"to": USER, "type": "text", "content": {"text": "Estamos vendo"}, "ticketId": ticket.pk}
        )
        assert answer.status_code == 200, answer.content
        reply = FollowUp.objects.filter(ticket=ticket).latest("pk")
        assert (reply.comment, reply.user, reply.public) == ("Estamos vendo", agent, True)
        assert reply.message_id == answer.json()["messageId"]

    def test_queues_per_organization_keep_tickets_apart(desk, settings, account):
        other = Queue.objects.create(title="Other", slug="other")
        foreign = DeskTicket.objects.create(queue=other, title="someone else's")
        slug = account.organization.slug
        enable(settings, BACKEND=BACKEND, DJANGO_HELPDESK_QUEUE={slug: "whatsapp", "elsewhere": "other"})
        backend = get_backend()
        assert backend.queue(account).slug == "whatsapp"
        assert backend.get_status(account, str(foreign.pk)) is None
        assert backend.add_comment(account, str(foreign.pk), text="x") is False
        assert not FollowUp.objects.filter(ticket=foreign).exists()

    @pytest.mark.parametrize(
        ("queue", "named"),
        [(None, "must be a queue slug"), ({"elsewhere": "whatsapp"}, "must be a queue slug"),
         ("missing", "django-helpdesk has no queue 'missing'")],
    )  # fmt: skip
    def test_a_wrong_queue_setting_names_itself(desk, settings, account, queue, named):
        enable(settings, BACKEND=BACKEND, DJANGO_HELPDESK_QUEUE=queue)
        with pytest.raises(ImproperlyConfigured, match=named) as raised:
            get_backend().create_ticket(account, Contact.objects.create(account=account, wa_id=USER), None)
        assert 'WACLOUD["HELPDESK"]["DJANGO_HELPDESK_QUEUE"]' in str(raised.value)
        assert Organization.objects.count() == 1 and not DeskTicket.objects.exists()
