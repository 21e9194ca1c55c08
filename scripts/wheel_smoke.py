"""Smoke test of an installed wacloud (scripts/wheel_check.sh and scripts/chroot_check.sh run it).

python wheel_smoke.py [--django] [--https URL]

Checks that wacloud is imported from the environment (not a checkout), without Django; that
the compiled core parses a webhook body, signs and verifies it and normalizes phone numbers
(ICU digits included); that the client sends a text to the in-process sandbox; with --django,
that wacloud_django loads into a configured Django; with --https, that the bundled libcurl
and OpenSSL find this machine's CA certificates (the URL answers an HTTP error, not a TLS one).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import sysconfig

WEBHOOK = {
    "object": "whatsapp_business_account",
    "entry": [
        {
            "id": "5467539754836534",
            "changes": [
                {
                    "field": "messages",
                    "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {"display_phone_number": "15550001111", "phone_number_id": "123"},
                        "contacts": [{"profile": {"name": "Ana"}, "wa_id": "16502530000"}],
                        "messages": [
                            {
                                "from": "16502530000",
                                "id": "wamid.smoke",
                                "timestamp": "1698269027",
                                "type": "text",
                                "text": {"body": "hello"},
                            }
                        ],
                    },
                }
            ],
        }
    ],
}


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"wheel smoke test FAILED: {what}")
    print(f"  ok  {what}")


def core() -> None:
    import wacloud

    site = os.path.realpath(sysconfig.get_paths()["purelib"])
    where = os.path.realpath(wacloud.__file__)
    check(where.startswith(site + os.sep), f"wacloud imported from the environment ({where})")
    check(os.path.realpath(wacloud._core.__file__).startswith(site + os.sep), "the compiled core too")
    check("django" not in sys.modules, "importing wacloud imports no Django")

    body = json.dumps(WEBHOOK).encode()
    events = wacloud.webhook.parse(body)
    check(
        len(events) == 1 and events[0].message_id == "wamid.smoke" and events[0].text == "hello",
        "a webhook body parses into its text message",
    )
    signature = wacloud.sign("secret", body)
    check(signature.startswith("sha256=") and len(signature) == 71, "sign gives sha256=<hex>")
    check(wacloud.verify_signature("secret", body, signature), "the signature verifies")
    check(not wacloud.verify_signature("other", body, signature), "a wrong secret does not")

    check(wacloud.phone.to_e164("(650) 253-0000", "US") == "+16502530000", "a US number to E.164")
    check(wacloud.phone.normalize("+44 20 7946 0018") == "442079460018", "a UK number to a wa_id")
    # Arabic-Indic and full-width digits: ICU's Unicode properties, compiled into the core.
    check(wacloud.phone.to_e164("+٤٤ ٢٠ ٧٩٤٦ ٠٠١٨") == "+442079460018", "Arabic-Indic digits")
    full_width = "\uff0b\uff11 \uff16\uff15\uff10 \uff12\uff15\uff13 \uff10\uff10\uff10\uff10"
    check(wacloud.phone.to_e164(full_width) == "+16502530000", "full-width digits")
    for number, reason in (("+1 650 253 0000 EXT. 12", "extension"), ("12", "")):
        try:
            wacloud.phone.to_e164(number)
        except wacloud.InvalidPhoneNumber as error:
            check(reason in str(error), f"{number!r} is refused ({error})")
        else:
            check(False, f"{number!r} is refused")
    check(
        wacloud.phone.normalize_many(["+16502530000", "nope"]) == ["16502530000", None],
        "normalize_many",
    )

    from wacloud.sandbox import Sandbox

    with Sandbox(access_token="token", phone_number_id="123", waba_id="456") as sandbox:
        # The user writes first: outside the 24-hour window only templates go.
        sandbox.inject_inbound(**{"from": "16502530000"}, name="Ana", type="text", text="hi")
        client = wacloud.Client("token", "123", base_url=sandbox.base_url)
        sent = client.send_text("+1 650 253 0000", "hello from the wheel")
        check(sent.message_id.startswith("wamid."), f"a text sent to the sandbox ({sent.message_id})")
        stored = sandbox.message(sent.message_id) or {}
        check(
            stored.get("payload", {}).get("text", {}).get("body") == "hello from the wheel",
            "the sandbox received it",
        )
    check("django" not in sys.modules, "the client and sandbox import no Django")
    from wacloud.sandbox import spec

    check(spec.SPEC_FILE.is_file() and (spec.SPEC_DIR / "NOTICE").is_file(), "Meta's spec ships in the wheel")


def django_app() -> None:
    from django.conf import settings

    import django

    settings.configure(
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.admin",
            "wacloud_django",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        WACLOUD={"APP_SECRET": "secret", "VERIFY_TOKEN": "verify", "ENCRYPTION_KEY": "0" * 64},
        ROOT_URLCONF="wacloud_django.urls",
        USE_TZ=True,
    )
    django.setup()
    import wacloud_django
    from wacloud_django.models import BusinessAccount

    check(
        bool(wacloud_django.__file__) and BusinessAccount._meta.app_label == "wacloud",
        f"wacloud_django loads into Django {django.get_version()}",
    )
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    check(BusinessAccount.objects.count() == 0, "its migrations apply")
    from django.urls import resolve

    check(resolve("/webhook").url_name is not None, "its URLs (webhook, REST API) load")


def https(url: str) -> None:
    import wacloud

    client = wacloud.Client("token", "123", base_url=url, max_retries=0, timeout=20)
    try:
        client.send_text("+16502530000", "hello")
    except wacloud.GraphAPIError as error:
        status = getattr(error, "http_status", None)
        check(bool(status), f"HTTPS to {url}: certificate verified, HTTP {status} answered")
        return
    except wacloud.WacloudError as error:
        raise SystemExit(
            f"wheel smoke test FAILED: HTTPS to {url}: {type(error).__name__}: {error}"
        ) from None
    check(False, f"HTTPS to {url} answered an error (it is not a Graph API)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--django", action="store_true", help="also load wacloud_django")
    parser.add_argument("--https", metavar="URL", help="also make one HTTPS request to URL")
    options = parser.parse_args()
    print(f"wheel smoke test: Python {sys.version.split()[0]} in {sys.prefix}")
    core()
    if options.https:
        https(options.https)
    if options.django:
        django_app()
    print("wheel smoke test passed")


if __name__ == "__main__":
    main()
