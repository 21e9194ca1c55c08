"""Run the Cloud API sandbox as this project's Meta: it plays the account's
number with the account's token and app secret, and signs webhooks to this
project's webhook URL. Point ``WACLOUD["BASE_URL"]`` at it to send to it."""

from __future__ import annotations

import asyncio
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.urls import NoReverseMatch, reverse

from ...conf import get_setting
from ..base import WacloudCommand


class Command(WacloudCommand):
    help = "Run the WhatsApp Cloud API sandbox wired to this project's webhook and the account's secrets."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--host", default="127.0.0.1", help="the address the sandbox listens on (default 127.0.0.1)"
        )
        parser.add_argument("--port", type=int, default=8765, help="its port (default 8765)")
        parser.add_argument(
            "--site-url", default="http://127.0.0.1:8000", help="where this project is served"
        )
        parser.add_argument("--webhook-url", help="default: --site-url + the webhook path")
        parser.add_argument("--state", help="a JSON file keeping the sandbox's state across restarts")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            import aiohttp  # noqa: F401  (the sandbox's server)

            from wacloud.sandbox.cli import serve
            from wacloud.sandbox.config import SandboxConfig
        except ImportError as error:
            raise CommandError(
                f'The sandbox needs aiohttp: pip install "wacloud[sandbox]" ({error.name} is missing).'
            ) from None
        account = self.selected_account(options)
        if not account.has_access_token:
            raise CommandError(f"Account {account.phone_number_id} has no access token.")
        app_secret = account.app_secret or get_setting("APP_SECRET")
        if not app_secret:
            raise CommandError(
                f'Account {account.phone_number_id} has no app secret and WACLOUD["APP_SECRET"] is not set: '
                "webhooks could not be signed."
            )
        webhook_url = options["webhook_url"]
        if not webhook_url:
            try:
                path = reverse("wacloud:webhook")
            except NoReverseMatch:
                raise CommandError(
                    'The webhook URL is not routed: add path("whatsapp/", include("wacloud_django.urls")) '
                    "to your URLconf, or pass --webhook-url."
                ) from None
            webhook_url = options["site_url"].rstrip("/") + path
        try:
            config = SandboxConfig(
                access_token=account.access_token,
                phone_number_id=account.phone_number_id,
                waba_id=account.waba_id or SandboxConfig.waba_id,
                app_secret=app_secret,
                webhook_url=webhook_url,
                host=options["host"],
                port=options["port"],
                display_phone_number=account.display_phone_number or SandboxConfig.display_phone_number,
                state_file=options["state"],
            )
        except ValueError as error:
            raise CommandError(f"The account cannot be played by the sandbox: {error}.") from None
        base_url = f"http://{options['host']}:{options['port']}"
        self.stdout.write(
            f"Sandbox for account {account.phone_number_id}; webhooks go to {webhook_url}.\n"
            f'Send to it with WACLOUD["BASE_URL"] = "{base_url}" (now {get_setting("BASE_URL")!r}).\n'
            f"Play the customer: curl -X POST {base_url}/_sandbox/inbound "
            """-H 'Content-Type: application/json' """
            """-d '{"from": "15550001111", "name": "Ana", "type": "text", "text": "hi"}'\n"""
            "Stop with Ctrl-C."
        )
        try:
            asyncio.run(serve(config))
        except OSError as error:
            address = f"{options['host']}:{options['port']}"
            raise CommandError(f"The sandbox could not listen on {address}: {error}") from None
        except KeyboardInterrupt:
            pass
