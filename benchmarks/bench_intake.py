"""Webhooks end to end: signed HTTP POSTs through gunicorn into PostgreSQL, counted when
stored AND processed.

- baseline: the plain view of webhook_baseline.py (json + hmac + the ORM, processing
  in the request) on gunicorn's workers;
- wacloud: ``WhatsAppWebhookView`` on the same workers storing each body (verify, route,
  one INSERT, 200), and ``whatsapp_process_webhooks --loop`` processes (batch processing)
  claiming and applying pending events in batches.

A load generator process (raw HTTP/1.1 over asyncio streams) POSTs the same bodies to
each: single text messages, media messages, single statuses, bodies batching 100 statuses
(as Meta does) and copies of the fixture corpus (tests/data/webhooks). The run ends when
every body is processed (read from the database); events/s counts bodies, items/s what
they carry. Latency is intake to
processed (``received_at`` to ``processed_at``). CPU seconds are read from /proc for each
process group (web workers, processors, load generator, every PostgreSQL process). Nothing
lost or duplicated is checked after each run: one event per body, every message once,
every outbound message at its furthest status, every media file once.

Database: ``wacloud_bench_intake`` on ``WACLOUD_BENCH_DATABASE_URL`` (default
postgres://postgres@127.0.0.1:5432/), dropped and created by each run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "tests" / "data" / "webhooks"
PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"
CUSTOMERS = 300
OUTBOUND = 4000  # the measured bodies' statuses name these; the warm-up's the next ones
WARM_OUTBOUND = 200
STATUS_BATCH = 100
RANK = {"sent": 1, "delivered": 3, "read": 4}

sys.path.insert(0, str(HERE))
from webhook_baseline import signature  # noqa: E402

# -- the bodies ------------------------------------------------------------------------------------


def _envelope(value: dict) -> dict:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
        **value,
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": value}]}],
    }


def _message(index: int, rng: random.Random, media: bool) -> dict:
    customer = rng.randrange(CUSTOMERS)
    wa_id = f"1555030{customer:04d}"
    item = {"from": wa_id, "id": f"wamid.in.{index:07d}", "timestamp": str(1700000000 + index)}
    if media:
        item.update(
            type="image",
            image={
                "id": f"media{index}",
                "mime_type": "image/jpeg",
                "sha256": "ab" * 16,
                "caption": f"photo {index}",
            },
        )
    else:
        item.update(type="text", text={"body": f"message number {index}"})
    return _envelope(
        {"contacts": [{"profile": {"name": f"Customer {customer}"}, "wa_id": wa_id}], "messages": [item]}
    )


def _statuses(pairs: list[tuple[int, str]], index: int) -> dict:
    rows = [
        {
            "id": f"wamid.out.{k:05d}",
            "status": status,
            "timestamp": str(1700000000 + index),
            "recipient_id": f"1555030{k % CUSTOMERS:04d}",
        }
        for k, status in pairs
    ]
    return _envelope({"statuses": rows})


def _suffixed(node, suffix: str):
    if isinstance(node, dict):
        return {
            key: f"{value}.{suffix}"
            if key in ("id", "message_id", "original_message_id") and isinstance(value, str)
            else _suffixed(value, suffix)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_suffixed(item, suffix) for item in node]
    return node


def _corpus_copy(path: Path, copy: int) -> dict:
    """A fixture body whose message and status ids are unique to this copy."""
    payload = json.loads(path.read_text())
    for entry in payload.get("entry", []):
        entry["time"] = 1700000000 + copy  # bodies without ids (account updates, ...) differ too
        for change in entry.get("changes", []):
            value = change.get("value", {})
            for name in ("messages", "message_echoes", "statuses"):
                if isinstance(value, dict) and name in value:
                    value[name] = _suffixed(value[name], f"{path.stem}.{copy}")
    return payload


def make_bodies(
    count: int, seed: int, first: int = 0, outbound: range = range(OUTBOUND)
) -> tuple[list[bytes], dict]:
    """``count`` bodies: 60% text, 10% media, 15% one status, 5% 100 statuses, 10% corpus.
    Statuses name the outbound messages of ``outbound``."""
    rng = random.Random(seed)
    corpus = sorted(FIXTURES.glob("*.json"))
    bodies, expected = [], {"messages": set(), "media": set(), "final": {}}
    for index in range(first, first + count):
        roll = rng.random()
        if roll < 0.7:
            media = roll >= 0.6
            bodies.append(_message(index, rng, media))
            expected["messages"].add(f"wamid.in.{index:07d}")
            if media:
                expected["media"].add(f"media{index}")
        elif roll < 0.9:
            many = STATUS_BATCH if roll >= 0.85 else 1
            pairs = [(rng.choice(outbound), rng.choice(["sent", "delivered", "read"])) for _ in range(many)]
            pairs = list(dict(pairs).items())  # one status per message and body
            for k, status in pairs:
                best = expected["final"].get(k, "sent")
                expected["final"][k] = status if RANK[status] > RANK[best] else best
            bodies.append(_statuses(pairs, index))
        else:
            bodies.append(_corpus_copy(corpus[index % len(corpus)], index))
    raw = [json.dumps(body, separators=(",", ":")).encode() for body in bodies]
    assert len(set(raw)) == len(raw), "every body must be unique (the intake stores a repeat once)"
    return raw, expected


def count_items(bodies: list[bytes]) -> int:
    from wacloud import webhook

    return sum(len(events) for events in webhook.parse_many(bodies))


# -- the load generator (a child process) ----------------------------------------------------------


def _write_bodies(path: Path, bodies: list[bytes]) -> None:
    with path.open("wb") as file:
        for raw in bodies:
            file.write(len(raw).to_bytes(4, "big") + raw)


def _read_bodies(path: Path) -> list[bytes]:
    data, bodies, at = path.read_bytes(), [], 0
    while at < len(data):
        size = int.from_bytes(data[at : at + 4], "big")
        bodies.append(data[at + 4 : at + 4 + size])
        at += 4 + size
    return bodies


class _Connection:
    """One HTTP/1.1 connection to the server, kept open while the server keeps it (gunicorn's
    sync workers close it after each answer; then the next request opens another). Raw
    asyncio streams: a client library would cost the load generator several times the CPU
    (which the benchmark counts), and these POSTs need nothing more."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def post(self, request: bytes) -> int:
        import asyncio

        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        try:
            self.writer.write(request)
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            await self.reader.readexactly(int(headers.get("content-length", "0")))
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            self.close()
            raise ConnectionError("the connection failed") from None
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def load(url: str, path: Path, concurrency: int, rate: float | None = None) -> dict:
    """POST every body (``rate``: at most that many per second, sent on schedule)."""
    import asyncio

    parts = urlsplit(url)
    bodies = _read_bodies(path)
    requests = [
        (
            f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(raw)}\r\nX-Hub-Signature-256: {signature(raw)}\r\n\r\n"
        ).encode()
        + raw
        for raw in bodies
    ]
    statuses: dict[int, int] = {}
    latencies: list[float] = []

    async def run() -> float:
        queue = iter(enumerate(requests))
        loop = asyncio.get_running_loop()

        async def worker() -> None:
            connection = _Connection(parts.hostname, parts.port)
            for index, request in queue:
                if rate:  # open loop: each body leaves at its time, however slow the answers
                    await asyncio.sleep(max(0.0, begun + index / rate - loop.time()))
                # As Meta does, a refused connection or an error answer is sent again.
                for attempt in range(5):
                    started = time.perf_counter()
                    try:
                        status = await connection.post(request)
                        statuses[status] = statuses.get(status, 0) + 1
                        latencies.append(time.perf_counter() - started)
                        if status < 500:
                            break
                    except ConnectionError:
                        if attempt == 4:
                            raise
                    await asyncio.sleep(0.05)
            connection.close()

        started, begun = time.time(), loop.time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return started

    started = asyncio.run(run())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    latencies.sort()
    return {
        "started": started,
        "ended": time.time(),
        "statuses": statuses,
        "cpu": usage.ru_utime + usage.ru_stime,
        "p99_response": latencies[int(len(latencies) * 0.99) - 1] if latencies else 0.0,
    }


# -- processes and their CPU -----------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _processes() -> list[tuple[int, int, str]]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                text = (entry / "stat").read_text()
            except OSError:
                continue
            comm = text[text.index("(") + 1 : text.rindex(")")]
            found.append((int(entry.name), int(text.rsplit(")", 1)[1].split()[1]), comm))
    return found


def cpu_by_group(web: int, processors: list[int]) -> dict[str, float]:
    """CPU seconds so far of the web server (master and workers), the processors and every
    PostgreSQL and Redis process (other databases' work included: the machine is shared)."""
    listed = _processes()
    workers = [pid for pid, parent, _ in listed if parent == web]
    return {
        "web": sum(_cpu_seconds(pid) for pid in [web, *workers]),
        "processors": sum(_cpu_seconds(pid) for pid in processors),
        "postgres": sum(_cpu_seconds(pid) for pid, _, comm in listed if comm.startswith("postgres")),
        "redis": sum(_cpu_seconds(pid) for pid, _, comm in listed if comm.startswith("redis-server")),
    }


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle (from /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("gunicorn exited before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not listen within 30 s")


# -- the database ----------------------------------------------------------------------------------


def server_url() -> str:
    return os.environ.get("WACLOUD_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def create_database() -> None:
    import intake_app
    import psycopg

    parts = urlsplit(server_url())
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {intake_app.DATABASE_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {intake_app.DATABASE_NAME}")
    from django.core.management import call_command

    import django

    django.setup()
    call_command("migrate", verbosity=0)


def reset_and_seed() -> None:
    """Empty wacloud's tables; the account and the outbound messages the statuses name."""
    from django.apps import apps
    from django.db import connection

    from wacloud_django.models import BusinessAccount, Message

    tables = [model._meta.db_table for model in apps.get_app_config("wacloud").get_models()]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    account = BusinessAccount.objects.create(
        phone_number_id=PHONE_NUMBER_ID, waba_id=WABA_ID, name="Bench", access_token="t"
    )
    Message.objects.bulk_create(
        [
            Message(
                account=account, wamid=f"wamid.out.{k:05d}", direction="outbound", type="text", status="sent"
            )
            for k in range(OUTBOUND + WARM_OUTBOUND)
        ]
    )
    # The corpus names its numbers under several WABAs: accounts without one accept them all.
    numbers = set()
    for path in FIXTURES.glob("*.json"):
        for entry in json.loads(path.read_text()).get("entry", []):
            for change in entry.get("changes", []):
                value = change.get("value")
                if isinstance(value, dict) and isinstance(value.get("metadata"), dict):
                    numbers.add(value["metadata"].get("phone_number_id"))
    numbers -= {None, PHONE_NUMBER_ID}
    BusinessAccount.objects.bulk_create(
        [
            BusinessAccount(phone_number_id=number, organization=account.organization)
            for number in sorted(numbers)
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def wait_processed(total: int, timeout: float) -> None:
    from wacloud_django.models import WebhookEvent

    deadline, done, progress_at = time.monotonic() + timeout, -1, time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - progress_at < 30:
        now_done = WebhookEvent.objects.filter(status__in=["processed", "partial", "failed"]).count()
        if now_done >= total:
            return
        if now_done != done:
            done, progress_at = now_done, time.monotonic()
        time.sleep(0.1)
    raise RuntimeError(
        f"only {done} of {total} events processed (no progress for 30 s or {timeout:.0f} s over)"
    )


def verify(bodies: list[bytes], expected: dict) -> list[str]:
    """What was lost or duplicated (empty: nothing)."""
    import hashlib

    from wacloud_django.models import MediaFile, Message, WebhookEvent

    problems = []
    hashes = {hashlib.sha256(raw).hexdigest() for raw in bodies}
    events = WebhookEvent.objects.filter(body_sha256__in=hashes)
    if events.count() != len(hashes):
        problems.append(f"{events.count()} events stored for {len(hashes)} bodies")
    failed = events.exclude(status__in=["processed", "partial"]).count()
    if failed:
        problems.append(f"{failed} events not processed")
    stored = set(Message.objects.filter(wamid__in=expected["messages"]).values_list("wamid", flat=True))
    if stored != expected["messages"]:
        problems.append(f"{len(expected['messages']) - len(stored)} messages missing")
    media = MediaFile.objects.filter(media_id__in=expected["media"])
    if media.count() != len(expected["media"]):
        problems.append(f"{media.count()} media files stored for {len(expected['media'])}")
    finals = dict(Message.objects.filter(wamid__startswith="wamid.out.").values_list("wamid", "status"))
    wrong = [k for k, status in expected["final"].items() if finals.get(f"wamid.out.{k:05d}") != status]
    if wrong:
        problems.append(f"{len(wrong)} outbound messages not at their furthest status")
    return problems


def latencies() -> tuple[float, float]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM "
            "processed_at - received_at)) FROM wacloud_webhookevent WHERE processed_at IS NOT NULL"
        )
        p50, p99 = cursor.fetchone()[0]
    return p50, p99


def last_processed() -> float:
    from django.db.models import Max

    from wacloud_django.models import WebhookEvent

    return WebhookEvent.objects.aggregate(last=Max("processed_at"))["last"].timestamp()


# -- one variant -----------------------------------------------------------------------------------


def run_variant(
    name: str, args: argparse.Namespace, warm: Path, measured: Path, bodies: list[bytes], expected: dict
) -> dict:
    reset_and_seed()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        "DJANGO_SETTINGS_MODULE": "intake_app",
        "BENCH_BATCH_SIZE": str(args.batch_size),
        "BENCH_LIVE_UPDATES": "redis" if args.live_updates else "",
    }
    port = _free_port()
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "intake_app:application",
            "--workers",
            str(args.workers),
            *(["--worker-class", "gthread", "--threads", str(args.threads)] if args.threads else []),
            "--bind",
            f"127.0.0.1:{port}",
            "--backlog",
            "2048",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=HERE,
    )
    processors = []
    if name == "wacloud":
        processors = [
            subprocess.Popen(
                [sys.executable, "-m", "django", "whatsapp_process_webhooks", "--loop", "--poll", "0.05"],
                env=env,
                cwd=HERE,
                stdout=subprocess.DEVNULL,
            )
            for _ in range(args.processors)
        ]
    path = "/whatsapp/webhook/" if name == "wacloud" else "/baseline/"
    url = f"http://127.0.0.1:{port}{path}"
    try:
        _wait_for_port(port, web)
        warm_count = len(_read_bodies(warm))
        _load_child(url, warm, args.concurrency)
        wait_processed(warm_count, 120)
        from wacloud_django.models import WebhookEvent

        WebhookEvent.objects.all().delete()  # the measured run's latencies only
        before, busy, load_before = (
            cpu_by_group(web.pid, [p.pid for p in processors]),
            machine_busy_seconds(),
            os.getloadavg(),
        )
        result = _load_child(url, measured, args.concurrency, args.rate)
        print(f"{name}: {len(bodies)} bodies sent, answers {result['statuses']}", file=sys.stderr)
        wait_processed(len(bodies), 600)
        after, busy = cpu_by_group(web.pid, [p.pid for p in processors]), machine_busy_seconds() - busy
        loadavg = os.getloadavg()
    finally:
        for process in [web, *processors]:
            process.send_signal(signal.SIGTERM)
        for process in [web, *processors]:
            process.wait(timeout=30)
    seconds = last_processed() - result["started"]
    p50, p99 = latencies()
    cpu = {group: after[group] - before[group] for group in after}
    cpu["load generator"] = result["cpu"]
    return {
        "seconds": seconds,
        "events_per_s": len(bodies) / seconds,
        "p50": p50,
        "p99": p99,
        "cpu": cpu,
        "machine_busy": busy,
        "loadavg": loadavg,
        "load_before": load_before,
        "responses": result["statuses"],
        "problems": verify(bodies, expected),
    }


def _load_child(url: str, path: Path, concurrency: int, rate: float | None = None) -> dict:
    rate_options = ["--rate", str(rate)] if rate else []
    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--load",
            url,
            "--bodies",
            str(path),
            "--concurrency",
            str(concurrency),
            *rate_options,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if child.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{child.stderr}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10000, help="bodies per variant (default 10000)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1000 bodies")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (both variants)")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="gunicorn gthread workers with this many threads each (keep-alive connections); "
        "default: sync workers (a connection per request)",
    )
    parser.add_argument("--processors", type=int, default=1, help="wacloud's batch processor processes")
    parser.add_argument("--batch-size", type=int, default=500, help="events per batch")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument(
        "--rate",
        type=float,
        help="bodies per second, sent on schedule (latency at a given load); default: flat out",
    )
    parser.add_argument(
        "--live-updates",
        action="store_true",
        help="wacloud pushes the inbox's live events to a Redis channel layer (channels-redis, "
        "WACLOUD_BENCH_REDIS_URL), as a deployment with the web inbox does; Redis's CPU is counted",
    )
    parser.add_argument(
        "--variants", default="baseline,wacloud", help="which to run, comma-separated (default: both)"
    )
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument("--bodies", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:  # the child: POST the bodies, print the result as JSON
        print(json.dumps(load(args.load, Path(args.bodies), args.concurrency, args.rate)))
        return 0
    os.environ["DJANGO_SETTINGS_MODULE"] = "intake_app"
    count = 1000 if args.quick else args.count
    bodies, expected = make_bodies(count, seed=1)
    warm_bodies, _ = make_bodies(
        max(100, count // 20), seed=2, first=count, outbound=range(OUTBOUND, OUTBOUND + WARM_OUTBOUND)
    )
    items = count_items(bodies)
    create_database()
    import tempfile

    results = {}
    with tempfile.TemporaryDirectory() as workdir:
        warm, measured = Path(workdir) / "warm.bin", Path(workdir) / "measured.bin"
        _write_bodies(warm, warm_bodies)
        _write_bodies(measured, bodies)
        for name in args.variants.split(","):
            results[name] = run_variant(name, args, warm, measured, bodies, expected)
    print(
        f"Webhooks end to end on PostgreSQL: {count} signed bodies ({items} items: messages, media, statuses "
        f"alone and {STATUS_BATCH} per body, the fixture corpus) through gunicorn ({args.workers} workers, "
        f"{args.concurrency} requests in flight, {f'{args.rate:g} bodies/s' if args.rate else 'flat out'}); "
        f"wacloud drained by {args.processors} batch processor(s), batches of {args.batch_size}"
        f"{', live updates to Redis' if args.live_updates else ''}. "
        f"{os.cpu_count()} CPUs."
    )
    counted = ["web", "processors", "load generator", "postgres", *(["redis"] if args.live_updates else [])]
    print(
        f"{'':10} {'events/s':>9} {'items/s':>9} {'p50 s':>7} {'p99 s':>7}   CPU s: {' / '.join(counted)} "
        "(machine busy)   load average"
    )
    for name, result in results.items():
        cpu, seconds = result["cpu"], result["seconds"]
        groups = " / ".join(f"{cpu[group]:.1f}" for group in counted)
        busy = f"({result['machine_busy']:.1f} of {os.cpu_count() * seconds:.1f})"
        print(
            f"{name:10} {result['events_per_s']:9.0f} {items / seconds:9.0f} {result['p50']:7.2f} "
            f"{result['p99']:7.2f}   {groups} {busy}   {result['load_before'][0]:.2f} -> "
            f"{result['loadavg'][0]:.2f}"
        )
        if result["problems"]:
            print(f"  FAIL {name}: {'; '.join(result['problems'])}  responses {result['responses']}")
    if "baseline" in results and "wacloud" in results:
        ratio = results["wacloud"]["events_per_s"] / results["baseline"]["events_per_s"]
        print(f"wacloud / baseline: {ratio:.2f}x")
    return 1 if any(result["problems"] for result in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
