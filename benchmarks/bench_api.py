"""The REST API: ``send`` through DRF token auth against a plain Django view doing
the same work, and list endpoints over 100,000 stored messages.

- send: ``POST /whatsapp/send`` (Bearer token, organization, role check, throttles,
  seed 000's body, audit entry) against a plain view that looks the same token up,
  reads the same JSON and calls the same ``send_message``. Both send a template to
  the sandbox (another thread) and answer after Meta's answer; ratio = API / plain.
- lists: conversations, a conversation's messages, a contact's history, contacts and
  audit, each paged (limit 50), on a SQLite file holding 100,000 messages; p50 and
  p95 of 50 requests each, and the queries each request made.

Run: ``python benchmarks/bench_api.py`` (``--sends``, ``--messages`` to scale)."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

PHONE_NUMBER_ID, WABA_ID, TOKEN = "106540352242922", "102290129340398", "EAAG-bench"
TEMPLATE = {"name": "hello_world", "language": {"code": "en_US"}}


def plain_send(request):
    """What a team would write without the API layer: check the token, read JSON, send."""
    from django.http import JsonResponse

    from wacloud_django.models import ApiToken, BusinessAccount
    from wacloud_django.services.outbound import send_message

    header = request.headers.get("Authorization", "")
    token = ApiToken.find(header.removeprefix("Bearer ")) if header.startswith("Bearer ") else None
    if token is None:
        return JsonResponse({"success": False}, status=401)
    body = json.loads(request.body)
    account = BusinessAccount.objects.get(phone_number_id=PHONE_NUMBER_ID)
    message = send_message(account, body["to"], "template", template_name=body["content"]["name"],
                           template_language=body["content"]["language"]["code"], enqueue=False)  # fmt: skip
    return JsonResponse({"success": True, "messageId": message.wamid})


def configure(workdir: Path, base_url: str) -> None:
    from django.conf import settings
    from django.urls import include, path

    import django

    db = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(workdir / "api.sqlite3"),
          "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}}  # fmt: skip
    settings.configure(
        SECRET_KEY="bench", USE_TZ=True, ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__,
        DATABASES={"default": db},
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "wacloud_django"],
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
        WACLOUD={"ENCRYPTION_KEY": "be" * 32, "USE_CELERY": False, "MEDIA_DOWNLOAD": False,
                 "BASE_URL": base_url, "RATE_LIMIT": {"PER_SECOND": 100000},
                 "API_THROTTLE_RATES": {"USER": "1000000/hour", "ORGANIZATION": "1000000/hour"}},
        LOGGING_CONFIG=None,
    )  # fmt: skip
    django.setup()
    sys.modules[__name__].urlpatterns = [
        path("whatsapp/", include("wacloud_django.urls")),
        path("plain/send", plain_send),
    ]


def set_up() -> tuple[object, str]:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from wacloud_django.models import ApiToken, BusinessAccount, Membership

    call_command("migrate", verbosity=0)
    account = BusinessAccount.objects.create(
        phone_number_id=PHONE_NUMBER_ID, waba_id=WABA_ID, access_token=TOKEN
    )
    user = get_user_model().objects.create_user("bench")
    Membership.objects.create(user=user, organization=account.organization, role="admin")
    _, key = ApiToken.issue(user)
    return account, key


def bench_send(client, key: str, count: int) -> dict[str, float]:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    rates = {}
    for name, url in (("plain", "/plain/send"), ("api", "/whatsapp/send")):
        bodies = [json.dumps({"to": f"+1555030{i % 500:04d}", "type": "template", "content": TEMPLATE})
                  for i in range(count + 20)]  # fmt: skip
        for raw in bodies[:20]:  # warm up: connections, caches
            assert client.post(url, raw, content_type="application/json", **headers).status_code == 200
        started = time.perf_counter()
        for raw in bodies[20:]:
            response = client.post(url, raw, content_type="application/json", **headers)
            assert response.status_code == 200, response.content
        rates[name] = count / (time.perf_counter() - started)
    return rates


def fill(account, total: int) -> dict[str, object]:
    """``total`` messages: one busy customer with a fifth of them, the rest over 2,000 others."""
    from django.db import transaction

    from wacloud_django.models import Contact, Conversation, Message

    start = datetime(2026, 1, 1, tzinfo=UTC)
    busy_share = total // 5
    others = 2000
    with transaction.atomic():
        contacts = Contact.objects.bulk_create(
            [
                Contact(account=account, wa_id=f"1555040{i:04d}", name=f"Customer {i}")
                for i in range(others + 1)
            ]
        )
        conversations = Conversation.objects.bulk_create(
            [Conversation(account=account, contact=c, last_message_at=start) for c in contacts]
        )
        batch = []
        for i in range(total):
            slot = 0 if i < busy_share else 1 + i % others
            batch.append(Message(
                account=account, contact=contacts[slot], conversation=conversations[slot],
                wamid=f"wamid.bench.{i:07d}", direction="inbound" if i % 2 else "outbound", type="text",
                text=f"message {i}", status="received" if i % 2 else "read",
                timestamp=start + timedelta(seconds=i),
            ))  # fmt: skip
            if len(batch) == 5000:
                Message.objects.bulk_create(batch)
                batch = []
        Message.objects.bulk_create(batch)
    return {"busy_contact": contacts[0], "busy_conversation": conversations[0]}


def bench_lists(client, key: str, rows: dict[str, object], repeats: int) -> dict[str, dict[str, float]]:
    from django.db import connection

    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    urls = {
        "conversations": "/whatsapp/conversations?limit=50",
        "conversation messages": f"/whatsapp/conversations/{rows['busy_conversation'].pk}/messages?limit=50",
        "contact history": f"/whatsapp/messages/{rows['busy_contact'].wa_id}?limit=50&offset=1000",
        "contacts (search)": "/whatsapp/contacts?limit=50&search=Customer 19",
        "audit": "/whatsapp/audit?limit=50",
    }
    results = {}
    for name, url in urls.items():
        client.get(url, **headers)
        queries: list[str] = []

        def count(execute, sql, *args, seen=queries):
            seen.append(sql)
            return execute(sql, *args)

        with connection.execute_wrapper(count):
            assert client.get(url, **headers).status_code == 200
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            response = client.get(url, **headers)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        times.sort()
        results[name] = {"p50": statistics.median(times), "p95": times[int(0.95 * (len(times) - 1))],
                         "queries": len(queries)}  # fmt: skip
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=300, help="sends per variant")
    parser.add_argument(
        "--messages", type=int, default=100_000, help="stored messages for the list endpoints"
    )
    parser.add_argument("--repeats", type=int, default=50, help="requests per list endpoint")
    args = parser.parse_args()

    from wacloud.sandbox import Sandbox

    with (
        tempfile.TemporaryDirectory() as workdir,
        Sandbox(access_token=TOKEN, phone_number_id=PHONE_NUMBER_ID, waba_id=WABA_ID) as sandbox,
    ):
        configure(Path(workdir), sandbox.base_url)
        from django.test import Client

        account, key = set_up()
        client = Client()
        rates = bench_send(client, key, args.sends)
        print(f"send ({args.sends} templates to the sandbox, answered after Meta's answer):")
        print(f"  plain Django view  {rates['plain']:8.1f} req/s")
        print(
            f"  REST API (DRF)     {rates['api']:8.1f} req/s   "
            f"ratio {rates['api'] / rates['plain']:.2f} (goal >= 0.8)"
        )
        started = time.perf_counter()
        rows = fill(account, args.messages)
        print(f"\nlists over {args.messages:,} messages (filled in {time.perf_counter() - started:.1f} s), "
              f"{args.repeats} requests each:")  # fmt: skip
        for name, figures in bench_lists(client, key, rows, args.repeats).items():
            verdict = "ok" if figures["p95"] < 50 else "over the 50 ms goal"
            print(f"  {name:22s} p50 {figures['p50']:6.1f} ms   p95 {figures['p95']:6.1f} ms   "
                  f"{figures['queries']} queries   {verdict}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
