"""Marketing campaigns: a campaign to every contact of an account, sent to the sandbox
through ``Client.send_many`` in claimed batches, one ``CampaignRecipient`` and one
``Message`` row written per recipient, against a loop of ``send_message`` calls (the
one-message path, on a smaller sample) measured in the same run.

The sandbox runs as its own process with Meta's throughput and pair limits lifted.
Each (database, audience size) runs in a fresh process, so its peak RSS is its own:
the growth from before the campaign to its end should stay flat from the small audience
to the large one (the audience is streamed, never loaded into a list). SQLite always;
PostgreSQL too when ``WACLOUD_BENCH_DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/test)
answers. Goal: >= 1,000 msg/s on 2 cores. The CPU time per message of the worker (all its
threads) and of the sandbox tell what idle cores would reach when the machine is shared.

    python benchmarks/bench_campaign.py [--sizes 20000,100000] [--baseline 1000]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlsplit

PHONE_NUMBER_ID, WABA_ID, TOKEN = "106540352242922", "102290129340398", "EAAG-bench"
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/test"
PG_NAME = "wacloud_bench_campaign"


def peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system, all threads) of this process or of ``pid`` (Linux /proc)."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wa_id(index: int) -> str:
    return f"4479{index:08d}"  # UK mobiles: valid for the C++ phone core


# -- the child: one database, one audience size -----------------------------------------------------


def configure(database: str, workdir: Path, base_url: str) -> None:
    from django.conf import settings

    import django

    if database == "sqlite":
        db = {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(workdir / "campaign.sqlite3"),
            "TEST": {"NAME": str(workdir / "campaign.sqlite3")},
            "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"},
        }
    else:
        url = urlsplit(os.environ.get("WACLOUD_BENCH_DATABASE_URL", DEFAULT_POSTGRES))
        db = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": PG_NAME,
            "HOST": url.hostname,
            "PORT": str(url.port or ""),
            "USER": unquote(url.username or ""),
            "PASSWORD": unquote(url.password or ""),
            "TEST": {"NAME": PG_NAME},
        }
    settings.configure(
        SECRET_KEY="bench",
        USE_TZ=True,
        DATABASES={"default": db},
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "wacloud_django"],
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        WACLOUD={
            "ENCRYPTION_KEY": "be" * 32,
            "USE_CELERY": False,
            "MEDIA_DOWNLOAD": False,
            "BASE_URL": base_url,
            "RATE_LIMIT": {"PER_SECOND": 1_000_000},
        },
        LOGGING_CONFIG=None,
    )
    django.setup()


def fill(account, count: int) -> None:
    """``count`` contacts, in small chunks (their peak must stay under the campaign's)."""
    from django.db import transaction

    from wacloud_django.models import Contact

    with transaction.atomic():
        for start in range(0, count, 1000):
            Contact.objects.bulk_create(
                [
                    Contact(account=account, wa_id=wa_id(i), name=f"Customer {i}")
                    for i in range(start, min(count, start + 1000))
                ]
            )


def measure(database: str, size: int, baseline: int, base_url: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as workdir:
        configure(database, Path(workdir), base_url)
        from django.db import connection

        from wacloud_django.automation.services import campaign_sending, campaigns
        from wacloud_django.models import BusinessAccount, CampaignRecipient, Message
        from wacloud_django.services.outbound import send_message

        original_name = connection.settings_dict["NAME"]
        connection.creation.create_test_db(verbosity=0, autoclobber=True)
        try:
            account = BusinessAccount.objects.create(
                phone_number_id=PHONE_NUMBER_ID, waba_id=WABA_ID, access_token=TOKEN
            )
            fill(account, size)
            # Warm up (client, connection pool, code paths), not measured.
            send_message(
                account,
                wa_id(0),
                "template",
                template_name="hello_world",
                template_language="en_US",
                enqueue=False,
            )
            gc.collect()
            rss_before, cpu_before = peak_rss_kib(), cpu_seconds()
            started = time.perf_counter()
            spec = campaigns.CampaignSpec(name="bench", template_name="hello_world", schedule="draft")
            campaign = campaigns.create_campaign(account.organization, account, spec)
            campaigns.start_campaign(campaign, enqueue=False)
            materialized = time.perf_counter()
            campaign_sending.run_campaign(campaign.pk)
            finished = time.perf_counter()
            rss_growth, cpu_used = peak_rss_kib() - rss_before, cpu_seconds() - cpu_before
            sent = CampaignRecipient.objects.filter(campaign=campaign, status="sent").count()
            stored = Message.objects.filter(reference=f"campaign:{campaign.pk}").count()
            assert sent == size == stored, f"sent {sent}, stored {stored} of {size}"
            result = {
                "size": size,
                "rate": size / (finished - started),
                "send_rate": size / (finished - materialized),
                "materialize_s": materialized - started,
                "rss_growth_mib": rss_growth / 1024,
                "cpu_ms_per_message": 1000 * cpu_used / size,
            }
            if baseline:
                started = time.perf_counter()
                for i in range(1, baseline + 1):
                    message = send_message(
                        account,
                        wa_id(i),
                        "template",
                        template_name="hello_world",
                        template_language="en_US",
                        enqueue=False,
                    )
                    assert message.status == "sent", message.error_message
                result["baseline_rate"] = baseline / (time.perf_counter() - started)
            return result
        finally:
            connection.close()
            connection.creation.destroy_test_db(original_name, verbosity=0)


# -- the parent: the sandbox, then one child per database and size -----------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_sandbox(port: int) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "wacloud.sandbox",
        "--port",
        str(port),
        "--access-token",
        TOKEN,
        "--phone-number-id",
        PHONE_NUMBER_ID,
        "--waba-id",
        WABA_ID,
        "--messages-per-second",
        "0",
        "--pair-rate",
        "0",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_sandbox", timeout=1).read()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the sandbox did not start")


def postgres_reachable() -> bool:
    try:
        import psycopg

        psycopg.connect(
            os.environ.get("WACLOUD_BENCH_DATABASE_URL", DEFAULT_POSTGRES), connect_timeout=3
        ).close()
    except Exception as error:
        print(f"PostgreSQL unreachable ({error}); measuring SQLite only")
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000,100000", help="audience sizes, comma separated")
    parser.add_argument("--baseline", type=int, default=1000, help="send_message calls in the baseline loop")
    parser.add_argument(
        "--databases", default="", help="sqlite,postgres (default: sqlite, and postgres if up)"
    )
    parser.add_argument("--child", nargs=3, metavar=("DATABASE", "SIZE", "BASE_URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one measurement, as JSON on the last line
        database, size, base_url = args.child
        print(json.dumps(measure(database, int(size), args.baseline, base_url)))
        return 0
    sizes = [int(size) for size in args.sizes.split(",")]
    databases = (
        args.databases.split(",")
        if args.databases
        else ["sqlite"] + (["postgres"] if postgres_reachable() else [])
    )
    port = free_port()
    sandbox = start_sandbox(port)
    try:
        print(
            f"Campaigns to the sandbox ({os.cpu_count()} cores); msg/s from creation to the last row written"
        )
        print(
            "database  recipients    msg/s  (send only)  materialize  peak RSS growth  "
            "send_message loop  ratio  CPU/msg: worker, sandbox"
        )
        print(f"(load average before: {os.getloadavg()[0]:.1f}; the cores may be shared)")
        for database in databases:
            for index, size in enumerate(sizes):
                baseline = args.baseline if index == 0 else 0
                sandbox_cpu = cpu_seconds(sandbox.pid)
                child = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--baseline",
                        str(baseline),
                        "--child",
                        database,
                        str(size),
                        f"http://127.0.0.1:{port}",
                    ],
                    capture_output=True,
                    text=True,
                )
                if child.returncode != 0:
                    print(f"FAIL: {database} {size}:\n{child.stdout}{child.stderr}", file=sys.stderr)
                    return 1
                result = json.loads(child.stdout.strip().splitlines()[-1])
                # Per request the sandbox served (the campaign's, the warm-up's and the loop's).
                sandbox_ms = 1000 * (cpu_seconds(sandbox.pid) - sandbox_cpu) / (size + baseline + 1)
                if baseline:
                    base_rate = result["baseline_rate"]
                loop = f"{base_rate:9.0f} msg/s" if baseline else ""
                print(
                    f"{database:<9} {size:>10,} {result['rate']:>8.0f} {result['send_rate']:>12.0f} "
                    f"{result['materialize_s']:>10.1f} s {result['rss_growth_mib']:>12.1f} MiB  {loop:>17}  "
                    f"{result['rate'] / base_rate:5.1f}x  {result['cpu_ms_per_message']:8.2f} ms "
                    f"{sandbox_ms:8.2f} ms"
                )
    finally:
        sandbox.terminate()
        try:
            sandbox.wait(timeout=10)
        except subprocess.TimeoutExpired:  # still busy with its queued statuses
            sandbox.kill()
            sandbox.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
