"""Scale-out: two intake servers and two Celery workers, each in its own process group as
if on its own host (they share PostgreSQL and Redis, nothing else), take one load of
signed webhooks, with redeliveries arriving at the other intake, and lose or duplicate
nothing; the sends of both workers share one rate limit through Redis.

Every process runs the integration settings with batch processing drained by Celery
(``WEBHOOK_BATCH`` with ``DRAIN: "auto"``: an intake queues ``drain_webhook_events``
after its commit, a worker claims batches with ``FOR UPDATE SKIP LOCKED``) and the rate
limiter in Redis (``RATE_LIMIT["BACKEND"]``). Those settings, and the workers' Celery
module, are written to a temporary folder when the processes start."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

HERE = Path(__file__).resolve().parent
DJANGO_TESTS = HERE.parent / "django"
DRAIN_TASK = "wacloud_django.tasks.drain_webhook_events"
SEND_TASK = "wacloud_django.tasks.send_whatsapp_message"

SETTINGS_MODULE = '''"""One node of the scale-out test: batch processing drained by Celery, the rate
limiter (and so the circuit breaker) in Redis."""
import os

import wacloud_celery_app
from wacloud_integration_settings import *  # noqa: F403
from wacloud_integration_settings import WACLOUD

WACLOUD = {
    **WACLOUD,
    "WEBHOOK_BATCH": {"ENABLED": True, "DRAIN": "auto", "SIZE": 20, "DEBOUNCE_SECONDS": 0.2},
    "RATE_LIMIT": {"PER_SECOND": 80, "BACKEND": os.environ["WACLOUD_TEST_REDIS_URL"]},
}
# The intakes queue drain_webhook_events on the integration tests' Celery app.
wacloud_celery_app.app.set_default()
'''
WORKER_MODULE = '''"""celery -A scaleout_worker worker: the integration tests' Celery app, whose results
name the worker that ran each task, with wacloud's tasks registered."""
import django
from wacloud_celery_app import app

app.conf.result_extended = True
django.setup()
import wacloud_django.tasks  # noqa: E402,F401
'''

# The load: text messages from a few customers, statuses (alone and batched) for outbound
# messages already stored, and redeliveries of the same bodies to the other intake.
CUSTOMERS = 30
TEXT_BODIES = 180
STATUS_BODIES = 60  # half with one status, half with ten
OUTBOUND = 120
RANK = {"sent": 1, "delivered": 2, "read": 3}
CONCURRENCY = 16


@dataclass
class Node:
    name: str
    process: subprocess.Popen
    log: Path

    def tail(self) -> str:
        return f"-- {self.name} (exit {self.process.poll()}):\n{self.log.read_text(errors='replace')[-2500:]}"


@dataclass
class Cluster:
    intake_urls: list[str]
    workers: list[str]  # Celery node names, without "@host"
    queue: str  # the workers' Celery queue, the cluster's alone
    redis_url: str
    nodes: list[Node] = field(default_factory=list)

    def check_alive(self) -> None:
        dead = [node for node in self.nodes if node.process.poll() is not None]
        if dead:
            pytest.fail(
                "a process of the cluster exited:\n" + "\n".join(n.tail() for n in dead), pytrace=False
            )

    def results(self, task_name: str) -> dict[str, list]:
        """The results of ``task_name`` each worker of the cluster stored, by worker."""
        import redis

        client = redis.Redis.from_url(self.redis_url)
        found: dict[str, list] = {worker: [] for worker in self.workers}
        try:
            for key in client.scan_iter(match="celery-task-meta-*", count=1000):
                raw = client.get(key)
                meta = json.loads(raw) if raw else {}
                worker = (meta.get("worker") or "").split("@")[0]
                if worker in found and meta.get("name") == task_name and meta.get("status") == "SUCCESS":
                    found[worker].append(meta["result"])
        finally:
            client.close()
        return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(name: str, command: list[str], env: dict, folder: Path) -> Node:
    log = folder / f"{name}.log"
    with open(log, "wb") as out:
        # Its own session and process group: nothing shared with the test or the other nodes.
        process = subprocess.Popen(
            command, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Node(name, process, log)


def _stop(nodes: list[Node]) -> None:
    for node in nodes:
        if node.process.poll() is None:
            os.killpg(node.process.pid, signal.SIGTERM)
    for node in nodes:
        try:
            node.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(node.process.pid, signal.SIGKILL)
            node.process.wait(timeout=10)


def _wait(what: str, check, cluster: Cluster, timeout: float, describe=lambda: ""):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        cluster.check_alive()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} {describe()}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def cluster(redis_url, postgres, sandbox, tmp_path_factory):
    """Two intakes (uvicorn, one process each) and two Celery workers (solo pool: one
    process, one task at a time) on the test database and a queue of their own."""
    import wacloud_celery_app

    folder = tmp_path_factory.mktemp("scale-out")
    (folder / "scaleout_settings.py").write_text(SETTINGS_MODULE)
    (folder / "scaleout_worker.py").write_text(WORKER_MODULE)
    token = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "scaleout_settings",
        "WACLOUD_INTEGRATION_DB_NAME": postgres,
        "WACLOUD_INTEGRATION_BASE_URL": sandbox.base_url,
        "WACLOUD_TEST_REDIS_URL": redis_url,
        "WACLOUD_INTEGRATION_QUEUE": f"wacloud-scale-out-{token}",
        "PYTHONPATH": os.pathsep.join(
            [str(folder), str(HERE), str(DJANGO_TESTS), os.environ.get("PYTHONPATH", "")]
        ),
    }
    ports = [_free_port(), _free_port()]
    workers = [f"scaleout-{letter}-{token}" for letter in "ab"]
    urls = [f"http://127.0.0.1:{port}/whatsapp/webhook/" for port in ports]
    cluster = Cluster(urls, workers, env["WACLOUD_INTEGRATION_QUEUE"], redis_url)
    try:
        for index, port in enumerate(ports):
            command = [
                sys.executable, "-m", "uvicorn", "--factory", "django.core.asgi:get_asgi_application",
                "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off", "--no-access-log",
                "--log-level", "warning",
            ]  # fmt: skip
            cluster.nodes.append(_start(f"intake-{index}", command, env, folder))
        for worker in workers:
            command = [
                sys.executable, "-m", "celery", "-A", "scaleout_worker", "worker", "--pool=solo",
                "--loglevel=INFO", "--without-heartbeat", "--without-gossip", "--without-mingle",
                "-Q", cluster.queue, "-n", f"{worker}@%h",
            ]  # fmt: skip
            cluster.nodes.append(_start(worker, command, env, folder))

        def listening() -> bool:
            for port in ports:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                except OSError:
                    return False
            return True

        def workers_answer() -> bool:
            inspect = wacloud_celery_app.app.control.inspect(timeout=0.5)
            answered = inspect.ping() or {}
            return {name.split("@")[0] for name in answered} >= set(workers)

        _wait("the intakes to listen", listening, cluster, 60)
        _wait("both workers to answer", workers_answer, cluster, 60)
        yield cluster
    finally:
        _stop(cluster.nodes)


@pytest.fixture
def account(cluster, sandbox):
    from wacloud_test_helpers import APP_SECRET, PHONE_NUMBER_ID, WABA_ID

    from wacloud_django.models import BusinessAccount

    sandbox.reset()
    sandbox.clear_faults()
    return BusinessAccount.objects.create(
        name="Scale-out", phone_number_id=PHONE_NUMBER_ID, waba_id=WABA_ID, access_token="EAAG-test-token",
        app_secret=APP_SECRET,
    )  # fmt: skip


# -- webhooks ------------------------------------------------------------------------------------


def customer(number: int) -> str:
    return f"1555077{number:04d}"


def make_load(seed: int = 14) -> tuple[list[bytes], Counter, dict[str, str]]:
    """Distinct bodies (shuffled), inbound messages per customer, each outbound message's
    furthest status."""
    from wacloud_test_helpers import dumps, envelope, text_message

    rng = random.Random(seed)
    bodies, inbound = [], Counter()
    for index in range(TEXT_BODIES):
        wa_id = customer(index % CUSTOMERS)
        wamid = f"wamid.scale.in.{index:04d}"
        bodies.append(
            dumps(text_message(wamid, f"message {index}", wa_id=wa_id, timestamp=1700000000 + index))
        )
        inbound[wa_id] += 1
    final = {f"wamid.scale.out.{k:04d}": "sent" for k in range(OUTBOUND)}
    for index in range(STATUS_BODIES):
        # One status per message and body, as Meta sends them.
        picked = {rng.randrange(OUTBOUND): rng.choice(list(RANK)) for _ in range(10 if index % 2 else 1)}
        rows = []
        for k, status in picked.items():
            wamid = f"wamid.scale.out.{k:04d}"
            final[wamid] = max(final[wamid], status, key=RANK.__getitem__)
            rows.append({"id": wamid, "status": status, "timestamp": str(1700001000 + index),
                         "recipient_id": customer(k % CUSTOMERS)})  # fmt: skip
        bodies.append(dumps(envelope({"statuses": rows})))
    rng.shuffle(bodies)
    assert len(set(bodies)) == len(bodies)
    return bodies, inbound, final


def post(url: str, raw: bytes) -> int:
    from wacloud_test_helpers import APP_SECRET, sign

    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(APP_SECRET, raw)}
    request = urllib.request.Request(url, data=raw, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


def test_two_intakes_and_two_workers_lose_and_duplicate_nothing(cluster, account):
    from wacloud_django.models import Contact, Conversation, Message, WebhookEvent
    from wacloud_django.services.webhooks import body_sha256

    Message.objects.bulk_create([
        Message(account=account, wamid=f"wamid.scale.out.{k:04d}", direction="outbound", type="text",
                status="sent")
        for k in range(OUTBOUND)
    ])  # fmt: skip
    bodies, inbound, final = make_load()
    first, second = cluster.intake_urls
    # Round robin over the intakes; every fourth body is delivered again at once to the other
    # intake (the two requests race), every tenth once more after the whole load.
    posts = []
    for index, raw in enumerate(bodies):
        here, there = (first, second) if index % 2 else (second, first)
        posts.append((here, raw))
        if index % 4 == 0:
            posts.append((there, raw))
    late = [(second if index % 2 else first, raw) for index, raw in enumerate(bodies) if index % 10 == 5]
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        answers = Counter(pool.map(lambda item: post(*item), posts))
        answers += Counter(pool.map(lambda item: post(*item), late))
    assert answers == {200: len(posts) + len(late)}, answers

    hashes = {body_sha256(raw) for raw in bodies}
    events = WebhookEvent.objects.filter(body_sha256__in=hashes)

    def backlog() -> str:
        return str(dict(Counter(WebhookEvent.objects.values_list("status", flat=True))))

    _wait("every event processed", lambda: events.filter(status="processed").count() == len(hashes), cluster,
          40, backlog)  # fmt: skip
    assert events.count() == len(hashes)  # exactly one event per distinct body, each processed
    assert not WebhookEvent.objects.exclude(status="processed").exists(), backlog()  # none pending or failed

    stored = Counter(Message.objects.filter(direction="inbound").values_list("contact__wa_id", flat=True))
    assert stored == inbound  # every inbound message once, on its customer's contact
    assert Message.objects.filter(direction="inbound").values("wamid").distinct().count() == TEXT_BODIES
    assert Contact.objects.filter(account=account).count() == CUSTOMERS
    # One open conversation per customer, whose unread count took every message once: two
    # workers adding to the same counters lost no update.
    unread = dict(Conversation.objects.filter(status="open").values_list("contact__wa_id", "unread_count"))
    assert unread == dict(inbound)
    furthest = dict(Message.objects.filter(direction="outbound").values_list("wamid", "status"))
    assert furthest == final

    # Both workers drained batches, and the batches' counts add up to each event once.
    def drained() -> dict[str, Counter]:
        results = cluster.results(DRAIN_TASK)
        return {worker: sum(map(Counter, found), Counter()) for worker, found in results.items()}

    def all_counted() -> bool:
        return sum(sum(counts.values()) for counts in drained().values()) >= len(hashes)

    _wait("the drain tasks' results", all_counted, cluster, 20, lambda: str(drained()))
    by_worker = drained()
    assert sum(by_worker.values(), Counter()) == {"processed": len(hashes)}, by_worker
    assert all(counts["processed"] > 0 for counts in by_worker.values()), by_worker


# -- sends ---------------------------------------------------------------------------------------


def test_sends_from_both_workers_share_one_redis_rate_limit(cluster, account, sandbox):
    """Each worker alone could send at the account's rate; together they still do (the
    limiter is one budget in Redis), and every message goes once."""
    import wacloud_celery_app
    from wacloud_test_helpers import PHONE_NUMBER_ID

    from wacloud_django.models import Message

    rate, count = 4, 16
    account.rate_limit_per_second = rate
    account.save(update_fields=["rate_limit_per_second"])
    recipients = [customer(500 + n) for n in range(count)]
    for wa_id in recipients:  # opens each 24-hour window (the live server stores the message)
        sandbox.inject_inbound(**{"from": wa_id}, name="Scale", type="text", text="hello")
    inbound = Message.objects.filter(direction="inbound", contact__wa_id__in=recipients)
    _wait("the inbound messages", lambda: inbound.count() == count, cluster, 20)

    for wa_id in recipients:  # the message's fields: a worker stores the row and queues its send
        wacloud_celery_app.app.send_task(
            SEND_TASK, kwargs={"phone_number_id": PHONE_NUMBER_ID, "to": wa_id, "message_type": "text",
                               "content": f"order for {wa_id} is ready"}, queue=cluster.queue,
        )  # fmt: skip
    outbound = Message.objects.filter(direction="outbound", contact__wa_id__in=recipients)
    _wait("every send", lambda: outbound.filter(wamid__isnull=False).count() == count, cluster, 30,
          lambda: str(dict(Counter(outbound.values_list("status", flat=True)))))  # fmt: skip

    sent = [m for wa_id in recipients for m in sandbox.sent_messages(to=wa_id) if m["type"] == "text"]
    assert Counter(m["wa_id"] for m in sent) == dict.fromkeys(recipients, 1)  # each message once
    # One budget: at most `rate` per second after the first `rate` (the burst), across both
    # workers. Two budgets would have let the sends through in half the time.
    started = sorted(m["created_at"] for m in sent)
    assert started[-1] - started[0] >= 0.8 * (count - rate) / rate, started

    def senders() -> dict[str, int]:
        return {worker: found.count("sent") for worker, found in cluster.results(SEND_TASK).items()}

    _wait("the send tasks' results", lambda: sum(senders().values()) == count, cluster, 20,
          lambda: str(senders()))  # fmt: skip
    assert all(senders().values()), senders()  # both workers sent
    # The sandbox's status webhooks reach the live server (and nothing arrives after the test).
    _wait("every message read", lambda: outbound.filter(status="read").count() == count, cluster, 20)
