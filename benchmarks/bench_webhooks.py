"""Webhook ingestion: signed bodies POSTed through Django's test client into the
database, on SQLite (a file) and on PostgreSQL (when reachable).

- wacloud: ``WhatsAppWebhookView`` (C++ signature check, raw event stored once,
  C++ parsing, contacts/conversations/messages upserted, processed inline);
- baseline: a plain view doing the same storage with ``json`` + ``hmac`` + the
  ORM in Python (signature, raw event, contact, conversation, message, counters;
  webhook_baseline.py, shared with bench_intake.py).

Each body carries one inbound text message; both views answer 200 only after
storing and processing it. Each database runs in its own process (Django is
configured once per process); both variants run in the same process, on the
same database, and are verified to have stored every message.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

from webhook_baseline import APP_SECRET, baseline_view, signature

PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/test"


def body(index: int, variant: str) -> bytes:
    wa_id = f"1555020{index % 200:04d}"  # 200 customers writing repeatedly
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": f"Customer {index % 200}"}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": f"wamid.{variant}.{index:08d}", "type": "text",
                          "timestamp": str(1700000000 + index), "text": {"body": f"message number {index}"}}],
        }}]}],
    }  # fmt: skip
    return json.dumps(payload, separators=(",", ":")).encode()


# -- one database, in this process ----------------------------------------------------------------


def configure(database: str, workdir: Path) -> None:
    from django.conf import settings
    from django.urls import include, path

    import django

    if database == "sqlite":
        # WAL without an fsync per commit: both variants measure work, not the disk.
        db = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(workdir / "bench.sqlite3"),
              "TEST": {"NAME": str(workdir / "bench.sqlite3")},
              "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}}  # fmt: skip
    else:
        url = urlsplit(os.environ.get("WACLOUD_BENCH_DATABASE_URL", DEFAULT_POSTGRES))
        db = {"ENGINE": "django.db.backends.postgresql", "NAME": "wacloud_bench", "HOST": url.hostname,
              "PORT": str(url.port or ""), "USER": unquote(url.username or ""),
              "PASSWORD": unquote(url.password or ""), "TEST": {"NAME": "wacloud_bench"}}  # fmt: skip
    settings.configure(
        SECRET_KEY="bench", USE_TZ=True, ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__,
        DATABASES={"default": db},
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "wacloud_django"],
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
        WACLOUD={"APP_SECRET": APP_SECRET, "ENCRYPTION_KEY": "be" * 32, "USE_CELERY": False,
                 "MEDIA_DOWNLOAD": False},
        LOGGING_CONFIG=None,
    )  # fmt: skip
    django.setup()
    module = sys.modules[__name__]
    module.urlpatterns = [path("whatsapp/", include("wacloud_django.urls")), path("baseline/", baseline_view)]


def measure(database: str, count: int, rounds: int) -> dict[str, float]:
    import tempfile

    with tempfile.TemporaryDirectory() as workdir:
        configure(database, Path(workdir))
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        from wacloud_django.models import BusinessAccount, Message

        original_name = connection.settings_dict["NAME"]
        connection.creation.create_test_db(verbosity=0, autoclobber=True)
        try:
            BusinessAccount.objects.create(phone_number_id=PHONE_NUMBER_ID, waba_id=WABA_ID, access_token="t",
                                           app_secret=APP_SECRET)  # fmt: skip
            client = Client()
            results: dict[str, float] = {"baseline": 0.0, "wacloud": 0.0}
            urls = {"baseline": "/baseline/", "wacloud": "/whatsapp/webhook/"}
            # Rounds alternate the variants; the best round of each counts (the least disturbed).
            for round_number in range(rounds):
                for variant, url in urls.items():
                    tag = f"{variant}{round_number}"
                    bodies = [body(i, tag) for i in range(count)]
                    for warm in bodies[:19]:  # warm caches and connections, not measured
                        post(client, url, warm)
                    with CaptureQueriesContext(connection) as queries:
                        post(client, url, bodies[19])
                    results[f"{variant}_queries"] = len(queries)
                    started = time.perf_counter()
                    for raw in bodies[20:]:
                        post(client, url, raw)
                    rate = (count - 20) / (time.perf_counter() - started)
                    stored = Message.objects.filter(wamid__startswith=f"wamid.{tag}.").count()
                    assert stored == count, f"{variant} stored {stored} of {count} messages"
                    results[variant] = max(results[variant], rate)
            return results
        finally:
            connection.creation.destroy_test_db(original_name, verbosity=0)


def post(client, url: str, raw: bytes) -> None:
    response = client.post(url, raw, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature(raw))
    assert response.status_code == 200, response.content


def postgres_reachable() -> bool:
    import psycopg

    url = os.environ.get("WACLOUD_BENCH_DATABASE_URL", DEFAULT_POSTGRES)
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except Exception as error:
        print(f"PostgreSQL at {url} unreachable ({error}); measuring SQLite only")
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="webhook bodies per variant and round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the best counts")
    parser.add_argument("--database", choices=["sqlite", "postgres"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.database:  # the child: one database, results as JSON on the last line
        print(json.dumps(measure(args.database, args.count, args.rounds)))
        return 0
    databases = ["sqlite"] + (["postgres"] if postgres_reachable() else [])
    print(f"Signed webhooks into the database: {args.rounds} alternating rounds of {args.count} per variant")
    print("(one inbound text message each; best round shown)")
    print("             events/s (SQL queries per webhook)")
    print("database     baseline (json+hmac+ORM)          wacloud    wacloud/baseline")
    for database in databases:
        child = subprocess.run([sys.executable, __file__, "--database", database, "--count", str(args.count),
                                "--rounds", str(args.rounds)],
                               capture_output=True, text=True)  # fmt: skip
        if child.returncode != 0:
            print(f"FAIL: {database} run failed:\n{child.stdout}{child.stderr}", file=sys.stderr)
            return 1
        result = json.loads(child.stdout.strip().splitlines()[-1])
        ratio = result["wacloud"] / result["baseline"]
        baseline = f"{result['baseline']:.0f} ({result['baseline_queries']})"
        ours = f"{result['wacloud']:.0f} ({result['wacloud_queries']})"
        print(f"{database:<12} {baseline:>24} {ours:>16} {ratio:>19.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
