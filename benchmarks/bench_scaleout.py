"""Scale-out: the same webhooks through one intake and one Celery worker, then through two
intakes and two workers, as if each process were on its own host (PostgreSQL and Redis
shared, nothing else).

An intake is gunicorn (``--web-workers`` sync workers) serving wacloud's webhook view with
batch processing drained by Celery (``WEBHOOK_BATCH`` with ``DRAIN: "auto"``: the intake
queues ``drain_webhook_events`` after its commit); a worker is ``celery worker --pool=solo``
(one process, one drain at a time) claiming batches with ``FOR UPDATE SKIP LOCKED``. The
rate limiter is in Redis too (``RATE_LIMIT["BACKEND"]``), as a deployment on several hosts
has it. Load generator processes (one per intake, bench_intake.py's) POST the bodies round
robin over the intakes; a run ends when every body is processed (read from the database).

Printed for each topology: events/s (bodies) and items/s, latency from intake to
processed, CPU seconds by group (intakes, workers, load generators, PostgreSQL, Redis, from
/proc) and their sum per body, the events each worker drained (from Celery's results), the load average, and
bench_intake.py's checks that nothing was lost or duplicated; then the ratio of two to one.
Each host (an intake and its worker) gets a CPU quota of its own (``--host-cpus``, 0.4 CPU by
default where cgroup quotas can be set, which needs root), as a machine of its own would have:
two hosts have twice the CPU of one, and the ratio of two to one says whether the design turns
it into throughput (the load generators, standing for Meta, and PostgreSQL and Redis, the shared
database hosts, are not limited). Without quotas (``--host-cpus 0``, or no root), on a machine
with few cores the second pair mostly competes with the first for them: the ratio then says how
much of the work spreads, not how a second host would add.

Database: ``wacloud_bench_intake`` on ``WACLOUD_BENCH_DATABASE_URL`` (bench_intake.py's,
dropped and created by each run); broker and results: ``WACLOUD_BENCH_REDIS_URL`` (default
redis://127.0.0.1:6379/14), on a queue of the run's own.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_intake  # noqa: E402
from bench_intake import (  # noqa: E402
    _cpu_seconds,
    _free_port,
    _load_child,
    _processes,
    _wait_for_port,
    _write_bodies,
    count_items,
    create_database,
    last_processed,
    latencies,
    machine_busy_seconds,
    make_bodies,
    reset_and_seed,
    verify,
    wait_processed,
)

DRAIN_TASK = "wacloud_django.tasks.drain_webhook_events"

# Written to the run's folder: intake_app's project with Celery draining the batches.
SETTINGS_MODULE = '''"""bench_scaleout.py's nodes: intake_app's project, drained by Celery on Redis."""
import os

from celery import Celery
from intake_app import *  # noqa: F403
from intake_app import WACLOUD

REDIS_URL = os.environ["WACLOUD_BENCH_REDIS_URL"]
WACLOUD = {
    **WACLOUD,
    "USE_CELERY": True,
    "WEBHOOK_BATCH": {**WACLOUD["WEBHOOK_BATCH"], "DRAIN": "auto"},
    "RATE_LIMIT": {"BACKEND": REDIS_URL},
}
app = Celery("bench_scaleout", broker=REDIS_URL, backend=REDIS_URL)
app.conf.update(
    task_default_queue=os.environ["BENCH_SCALEOUT_QUEUE"],
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    result_expires=3600,
    result_extended=True,  # each result names the worker that ran it
)
app.set_default()
'''
WORKER_MODULE = '''"""celery -A scaleout_worker worker: the nodes' Celery app with wacloud's tasks."""
import django
from scaleout_settings import app  # noqa: F401

django.setup()
import wacloud_django.tasks  # noqa: E402,F401
'''


def redis_url() -> str:
    return os.environ.get("WACLOUD_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


CGROUP_V1_CPU = Path("/sys/fs/cgroup/cpu")
CGROUP_V2 = Path("/sys/fs/cgroup")
QUOTA_PERIOD_US = 100_000


class HostQuota:
    """A simulated host's CPU: a cgroup of its own (the cpu controller of cgroup v1, or v2's
    cpu.max) that each of the host's processes starts in, so the host has ``cpus`` CPUs
    whatever the other hosts do, as a machine of its own would. Needs root."""

    def __init__(self, name: str, cpus: float) -> None:
        root = CGROUP_V1_CPU if (CGROUP_V1_CPU / "cpu.cfs_quota_us").exists() else CGROUP_V2
        self.path = root / name
        self.path.mkdir()
        quota = max(1000, round(cpus * QUOTA_PERIOD_US))
        try:
            if root == CGROUP_V1_CPU:
                (self.path / "cpu.cfs_period_us").write_text(str(QUOTA_PERIOD_US))
                (self.path / "cpu.cfs_quota_us").write_text(str(quota))
            else:  # no cpu.max unless the parent enables the cpu controller for its children
                (self.path / "cpu.max").write_text(f"{quota} {QUOTA_PERIOD_US}")
        except OSError:
            self.path.rmdir()
            raise

    @staticmethod
    def unavailable() -> str | None:
        """Why quotas cannot be set here, or None when they can."""
        try:
            probe = HostQuota(f"wacloud-bench-probe-{uuid.uuid4().hex[:8]}", 1.0)
        except OSError as error:
            return f"no cgroup CPU quota here ({error.strerror or error}; it needs root and a cpu controller)"
        probe.remove()
        return None

    def command(self, command: list[str]) -> list[str]:
        """``command`` started inside the cgroup (before it can fork workers of its own)."""
        return ["sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self.path / "cgroup.procs"), *command]

    def remove(self) -> None:
        try:
            self.path.rmdir()
        except OSError:  # a process of the host still exiting: the kernel keeps it until then
            time.sleep(0.5)
            self.path.rmdir()


class Topology:
    """``size`` intakes and ``size`` workers, each in its own process group."""

    def __init__(self, size: int, args: argparse.Namespace, folder: Path) -> None:
        token = uuid.uuid4().hex[:8]
        self.queue = f"wacloud-bench-scaleout-{token}"
        self.worker_names = [f"bench-{index}-{token}" for index in range(size)]
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(folder), str(HERE), os.environ.get("PYTHONPATH", "")]),
            "DJANGO_SETTINGS_MODULE": "scaleout_settings",
            "BENCH_BATCH_SIZE": str(args.batch_size),
            "WACLOUD_BENCH_REDIS_URL": redis_url(),
            "BENCH_SCALEOUT_QUEUE": self.queue,
        }
        self.folder = folder
        self.ports = [_free_port() for _ in range(size)]
        # Host i runs intake i and worker i, within its CPU quota when one is set.
        self.hosts = [
            HostQuota(f"wacloud-bench-host-{token}-{index}", args.host_cpus) for index in range(size)
        ] if args.host_cpus else []  # fmt: skip
        wrap = [host.command for host in self.hosts] or [list] * size
        self.intakes = [
            self._start(wrap[index](self._gunicorn(port, args.web_workers)), f"intake-{port}")
            for index, port in enumerate(self.ports)
        ]
        self.workers = [
            self._start(wrap[index](self._celery(name)), name) for index, name in enumerate(self.worker_names)
        ]

    def _start(self, command: list[str], name: str) -> subprocess.Popen:
        with open(self.folder / f"{name}.log", "wb") as log:
            return subprocess.Popen(
                command, cwd=HERE, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    @staticmethod
    def _gunicorn(port: int, workers: int) -> list[str]:
        return [
            sys.executable, "-m", "gunicorn", "intake_app:application", "--workers", str(workers),
            "--bind", f"127.0.0.1:{port}", "--backlog", "2048", "--log-level", "warning",
        ]  # fmt: skip

    def _celery(self, name: str) -> list[str]:
        return [
            sys.executable, "-m", "celery", "-A", "scaleout_worker", "worker", "--pool=solo",
            "--loglevel=WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle",
            "-Q", self.queue, "-n", f"{name}@%h",
        ]  # fmt: skip

    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}/whatsapp/webhook/" for port in self.ports]

    def wait_ready(self) -> None:
        from celery import Celery

        for port, intake in zip(self.ports, self.intakes, strict=True):
            _wait_for_port(port, intake)
        app = Celery("bench_scaleout_control", broker=redis_url())
        deadline = time.monotonic() + 60
        while True:
            answered = app.control.inspect(timeout=0.5).ping() or {}
            if {name.split("@")[0] for name in answered} >= set(self.worker_names):
                return
            if time.monotonic() > deadline or any(w.poll() is not None for w in self.workers):
                raise RuntimeError(f"the Celery workers did not start; see {self.folder}")

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far: intakes (masters and their workers), Celery workers, every
        PostgreSQL and Redis process (the machine's other databases' work included)."""
        listed = _processes()

        def with_children(pids: list[int]) -> list[int]:
            return pids + [pid for pid, parent, _ in listed if parent in pids]

        return {
            "intakes": sum(map(_cpu_seconds, with_children([p.pid for p in self.intakes]))),
            "workers": sum(map(_cpu_seconds, with_children([p.pid for p in self.workers]))),
            "postgres": sum(_cpu_seconds(pid) for pid, _, comm in listed if comm.startswith("postgres")),
            "redis": sum(_cpu_seconds(pid) for pid, _, comm in listed if comm.startswith("redis-server")),
        }

    def take_drained(self) -> Counter:
        """Events each worker's drain tasks processed, from the results stored since the
        last call (read, then deleted)."""
        import redis

        client = redis.Redis.from_url(redis_url())
        drained = Counter(dict.fromkeys(self.worker_names, 0))
        try:
            for key in client.scan_iter(match="celery-task-meta-*", count=1000):
                raw = client.get(key)
                meta = json.loads(raw) if raw else {}
                worker = (meta.get("worker") or "").split("@")[0]
                if worker in drained and meta.get("name") == DRAIN_TASK and meta.get("status") == "SUCCESS":
                    drained[worker] += sum(meta["result"].values())
                    client.delete(key)
        finally:
            client.close()
        return drained

    def drained(self, events: int, timeout: float = 30) -> Counter:
        """Every result of the drains that processed ``events`` events, by worker (the task
        that committed the last batch stores its result a moment after the commit)."""
        drained, deadline = Counter(), time.monotonic() + timeout
        while sum(drained.values()) < events and time.monotonic() < deadline:
            drained.update(self.take_drained())
            time.sleep(0.1)
        return drained

    def stop(self) -> None:
        for process in [*self.intakes, *self.workers]:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in [*self.intakes, *self.workers]:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        import redis

        # Tasks left queued (a debounced drain, one given back at shutdown) go with the queue.
        client = redis.Redis.from_url(redis_url())
        try:
            client.delete(self.queue, f"_kombu.binding.{self.queue}")
        finally:
            client.close()
        for host in self.hosts:
            host.remove()


def post_round_robin(urls: list[str], bodies: list[bytes], folder: Path, name: str, args) -> dict:
    """Body i to intake i mod n, one load generator process per intake, all at once."""
    parts = [bodies[index :: len(urls)] for index in range(len(urls))]
    results: list[dict | BaseException] = [{}] * len(urls)

    def run(index: int) -> None:
        path = folder / f"{name}-{index}.bin"
        _write_bodies(path, parts[index])
        try:
            results[index] = _load_child(urls[index], path, max(1, args.concurrency // len(urls)))
        except BaseException as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(urls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        if isinstance(result, BaseException):
            raise result
    statuses: Counter = Counter()
    for result in results:
        statuses.update({int(code): count for code, count in result["statuses"].items()})
    return {
        "started": min(result["started"] for result in results),
        "cpu": sum(result["cpu"] for result in results),
        "statuses": dict(statuses),
    }


def run_topology(size: int, args, bodies, expected, warm_bodies, folder: Path) -> dict:
    from wacloud_django.models import WebhookEvent

    reset_and_seed()
    topology = Topology(size, args, folder)
    try:
        topology.wait_ready()
        post_round_robin(topology.urls(), warm_bodies, folder, f"warm-{size}", args)
        wait_processed(len(warm_bodies), 120)
        WebhookEvent.objects.all().delete()  # the measured run's latencies only
        topology.drained(len(warm_bodies))  # the warm-up's results, left out
        before, busy, load_before = topology.cpu(), machine_busy_seconds(), os.getloadavg()
        result = post_round_robin(topology.urls(), bodies, folder, f"measured-{size}", args)
        print(f"{size} + {size}: {len(bodies)} bodies sent, answers {result['statuses']}", file=sys.stderr)
        wait_processed(len(bodies), 900)
        after, busy = topology.cpu(), machine_busy_seconds() - busy
        load_after = os.getloadavg()
        drained = topology.drained(len(bodies))
    finally:
        topology.stop()
    seconds = last_processed() - result["started"]
    p50, p99 = latencies()
    cpu = {group: after[group] - before[group] for group in after}
    cpu["load generators"] = result["cpu"]
    return {
        "seconds": seconds,
        "events_per_s": len(bodies) / seconds,
        "p50": p50,
        "p99": p99,
        "cpu": cpu,
        "machine_busy": busy,
        "load": (load_before, load_after),
        "drained": drained,
        "responses": result["statuses"],
        "problems": verify(bodies, expected),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000, help="bodies per topology (default 3000)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 600 bodies")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers per intake (default 2)")
    parser.add_argument("--batch-size", type=int, default=200, help="events per batch (default 200)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight, over all intakes")
    parser.add_argument(
        "--host-cpus", type=float, default=None,
        help="CPUs of each simulated host (an intake and a worker), set by a cgroup quota; 0: no limit. "
        "Default: 0.4 where cgroup quotas can be set (root), else no limit",
    )  # fmt: skip
    args = parser.parse_args()
    quota_note = ""
    if args.host_cpus is None or args.host_cpus > 0:
        why_not = HostQuota.unavailable()
        if why_not and args.host_cpus:
            parser.error(f"--host-cpus: {why_not}")
        args.host_cpus = 0 if why_not else (args.host_cpus or 0.4)
        quota_note = why_not or ""
    os.environ["DJANGO_SETTINGS_MODULE"] = "intake_app"
    count = 600 if args.quick else args.count
    bodies, expected = make_bodies(count, seed=1)
    warm_bodies, _ = make_bodies(
        max(100, count // 20),
        seed=2,
        first=count,
        outbound=range(bench_intake.OUTBOUND, bench_intake.OUTBOUND + bench_intake.WARM_OUTBOUND),
    )
    items = count_items(bodies)
    create_database()
    results = {}
    with tempfile.TemporaryDirectory() as workdir:
        folder = Path(workdir)
        (folder / "scaleout_settings.py").write_text(SETTINGS_MODULE)
        (folder / "scaleout_worker.py").write_text(WORKER_MODULE)
        for size in (1, 2):
            results[size] = run_topology(size, args, bodies, expected, warm_bodies, folder)
    print(
        f"Scale-out on PostgreSQL and Redis: {count} signed bodies ({items} items) round robin over the "
        f"intakes (gunicorn, {args.web_workers} workers each, {args.concurrency} requests in flight in all), "
        f"drained by Celery workers (solo pool, batches of {args.batch_size}). {os.cpu_count()} CPUs."
    )
    if args.host_cpus:
        print(f"Each host (an intake and a worker) limited to {args.host_cpus:g} CPU by a cgroup quota; "
              "the load generators, PostgreSQL and Redis are not limited.")  # fmt: skip
    else:
        why = f" ({quota_note})" if quota_note else ""
        print(f"Hosts not CPU-limited{why}: on a machine with few cores the second pair mostly "
              "competes with the first for them.")  # fmt: skip
    print(
        f"{'':22} {'events/s':>9} {'items/s':>9} {'p50 s':>7} {'p99 s':>7}   CPU s: intakes / workers / "
        "load generators / postgres / redis (machine busy)   CPU ms per body   events drained by worker   "
        "load average"
    )
    for size, result in results.items():
        cpu, seconds = result["cpu"], result["seconds"]
        groups = " / ".join(
            f"{cpu[group]:.1f}" for group in ("intakes", "workers", "load generators", "postgres", "redis")
        )
        busy = f"({result['machine_busy']:.1f} of {os.cpu_count() * seconds:.1f})"
        per_body = 1000 * sum(cpu.values()) / count
        drained = " / ".join(str(events) for events in result["drained"].values())
        label = "1 intake + 1 worker" if size == 1 else f"{size} intakes + {size} workers"
        (before, after) = result["load"]
        print(
            f"{label:22} {result['events_per_s']:9.0f} {items / seconds:9.0f} {result['p50']:7.2f} "
            f"{result['p99']:7.2f}   {groups} {busy}   {per_body:.1f}   {drained}   "
            f"{before[0]:.2f} -> {after[0]:.2f}"
        )
        if result["problems"]:
            print(f"  FAIL: {'; '.join(result['problems'])}  responses {result['responses']}")
        else:
            print("  nothing lost or duplicated: one event per body, every message and media file once, "
                  "every outbound message at its furthest status")  # fmt: skip
    ratio = results[2]["events_per_s"] / results[1]["events_per_s"]
    print(f"2 + 2 / 1 + 1: {ratio:.2f}x")
    return 1 if any(result["problems"] for result in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
