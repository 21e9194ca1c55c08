"""Help desk sessions on both stores, through one interface: the database (default) and Redis
(``SESSION_BACKEND = "redis"``; the Redis cases carry the ``integration`` marker and need Redis
at WACLOUD_TEST_REDIS_URL, default 127.0.0.1:6379/15: when selected, an unreachable Redis fails
them, naming the URL). Driven through signed webhooks, the clock moved with time-machine."""

from __future__ import annotations

import os
import threading
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.utils import timezone
from test_helpdesk import PT, enable, replies, writes

from wacloud_django import tasks
from wacloud_django.helpdesk.services import redis_sessions, sessions
from wacloud_django.models import Contact, HelpdeskSession, Ticket

pytestmark = pytest.mark.django_db

REDIS_URL = os.environ.get("WACLOUD_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
BO = "5511999990002"


@pytest.fixture(params=["database", pytest.param("redis", marks=pytest.mark.integration)])
def store(request, settings, sandbox, account):
    """The help desk on, in Portuguese, its sessions in the store under test (a Redis prefix of
    the test's own, removed afterwards)."""
    if request.param == "database":
        enable(settings, LANGUAGE="pt")
        yield "database"
        return
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis at {REDIS_URL} (WACLOUD_TEST_REDIS_URL) is unreachable: {error}", pytrace=False)
    prefix = f"wacloud:test:helpdesk:{uuid.uuid4().hex}:"
    enable(settings, LANGUAGE="pt", SESSION_BACKEND="redis", SESSION_REDIS_URL=REDIS_URL,
           SESSION_REDIS_PREFIX=prefix)  # fmt: skip
    yield "redis"
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_a_session_lives_while_messages_come_and_ends_after_24_hours_of_silence(post_webhook, sandbox, store):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        writes(post_webhook, sandbox, "Primeiro")
    with time_machine.travel(start + timedelta(hours=23), tick=False):
        writes(post_webhook, sandbox, "Ainda ativo")
    with time_machine.travel(start + timedelta(hours=46), tick=False):
        writes(post_webhook, sandbox, "Continua")  # 23 h after the last message
    assert Ticket.objects.count() == 1 and Ticket.objects.get().comments.count() == 3
    with time_machine.travel(start + timedelta(hours=70, minutes=1), tick=False):
        writes(post_webhook, sandbox, "Depois de um dia")
    assert sorted(Ticket.objects.values_list("number", flat=True)) == [1, 2]
    # The Redis store keeps nothing in the table; the database one keeps one row per contact.
    assert HelpdeskSession.objects.count() == (1 if store == "database" else 0)


def test_new_ends_the_session_and_status_still_knows_the_last_ticket(post_webhook, sandbox, store):
    writes(post_webhook, sandbox, "Sem internet")
    writes(post_webhook, sandbox, "/novo")
    writes(post_webhook, sandbox, "/status")
    writes(post_webhook, sandbox, "Outro problema")
    assert Ticket.objects.count() == 2
    assert replies(sandbox)[1:3] == [PT["new"], "Chamado #1: aberto"]


def test_the_cleanup_task_deletes_expired_sessions_only(post_webhook, sandbox, store):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        writes(post_webhook, sandbox, "Ana escreve")
    with time_machine.travel(start + timedelta(hours=20), tick=False):
        writes(post_webhook, sandbox, "Bo escreve", wa_id=BO)
    with time_machine.travel(start + timedelta(hours=25), tick=False):
        assert tasks.cleanup_helpdesk_sessions() == 1
        assert tasks.cleanup_helpdesk_sessions() == 0
        writes(post_webhook, sandbox, "/status")
        writes(post_webhook, sandbox, "/status", wa_id=BO)
    assert replies(sandbox)[-1] == PT["no_ticket"]  # Ana's expired session is gone
    assert replies(sandbox, wa_id=BO)[-1] == "Chamado #2: aberto"  # Bo's is kept


@pytest.mark.serial
@pytest.mark.integration
@pytest.mark.parametrize("store", ["redis"], indirect=True)  # the database's row lock: test_helpdesk.py
def test_a_redis_session_is_held_while_a_message_is_filed(settings, store, account):
    contact = Contact.objects.create(account=account, wa_id=BO)
    held, release, second = threading.Event(), threading.Event(), []

    def first_message():
        with sessions.locked_session(account, contact):
            held.set()
            release.wait(10)

    worker = threading.Thread(target=first_message)
    worker.start()
    assert held.wait(10)
    key = f"{settings.WACLOUD['HELPDESK']['SESSION_REDIS_PREFIX']}session:{account.pk}:{contact.pk}"
    assert redis_sessions.client().lock(f"{key}:lock").locked()  # a second message would wait
    release.set()
    worker.join(10)
    with sessions.locked_session(account, contact) as session:
        second.append(session)
    assert second[0].ticket_number == "" and not redis_sessions.client().lock(f"{key}:lock").locked()


@pytest.mark.parametrize(
    ("helpdesk", "named"),
    [
        ({"SESSION_BACKEND": "memcached"}, '["SESSION_BACKEND"] must be "database" or "redis"'),
        ({"SESSION_BACKEND": "redis"}, '["SESSION_REDIS_URL"] must be a redis:// URL'),
        ({"SESSION_BACKEND": "redis", "SESSION_REDIS_URL": "localhost:6379"}, "must be a redis:// URL"),
    ],
)
def test_a_wrong_session_setting_is_named_by_manage_py_check(settings, helpdesk, named):
    enable(settings, **helpdesk)
    with pytest.raises(SystemCheckError, match=r"wacloud\.E017") as raised:
        call_command("check")
    assert named in str(raised.value)
