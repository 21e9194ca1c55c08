"""Check an account end to end: the connection, the profile, templates, or a real send."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from wacloud.errors import WacloudError

from ...exceptions import AccountNotConfigured
from ...models import Message
from ...services import analytics, tokens
from ...services.outbound import send_message
from ...services.recipients import recipient_wa_id
from ..base import WacloudCommand
from .whatsapp_send import describe

TEST_TYPES = ["connectivity", "token", "send-text", "send-template", "profile", "templates"]


class Command(WacloudCommand):
    help = "Test a WhatsApp account: " + ", ".join(TEST_TYPES) + "."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--test-type", choices=TEST_TYPES, default="connectivity", help="default connectivity"
        )
        parser.add_argument("--to", help="recipient for send-text and send-template")
        parser.add_argument("--message", default="Test message from wacloud", help="the text for send-text")
        parser.add_argument(
            "--template", "--template-name", dest="template", default="hello_world",
            help="the template for send-template (default hello_world)",
        )  # fmt: skip
        parser.add_argument("--language", default="en_US", help="the template language")

    def handle(self, *args: Any, **options: Any) -> None:
        account = self.selected_account(options)
        test = options["test_type"]
        if test.startswith("send-") and not options["to"]:
            raise CommandError(f"--test-type {test} needs --to NUMBER.")
        try:
            data, text = getattr(self, test.replace("-", "_"))(account, options)
        except (WacloudError, AccountNotConfigured, ValueError) as error:
            raise CommandError(
                f"{test} test failed for {account.phone_number_id}: {type(error).__name__}: {error}"
            ) from None
        self.emit(options, {"test": test, "ok": True, **data}, text)

    def connectivity(self, account: Any, options: dict[str, Any]) -> tuple[dict, str]:
        health = analytics.account_health(account)
        token, token_text = self.token(account, options)
        return {**health, **token}, (
            f"Connected: {health['verified_name']} ({health['display_phone_number']}), quality "
            f"{health['quality_rating']}, tier {health['messaging_limit_tier']}.\n{token_text}"
        )

    def token(self, account: Any, options: dict[str, Any]) -> tuple[dict, str]:
        """Meta's debug_token for the stored token: validity, expiry, missing permissions."""
        data = tokens.describe(tokens.refresh_token_status(account))
        return {"token": data}, f"Access token: {tokens.render(data)}."

    def profile(self, account: Any, options: dict[str, Any]) -> tuple[dict, str]:
        profile = analytics.business_profile(account)
        return {"profile": profile}, "Business profile:\n" + "\n".join(
            f"  {key}: {value}" for key, value in sorted(profile.items())
        )

    def templates(self, account: Any, options: dict[str, Any]) -> tuple[dict, str]:
        remote = analytics.remote_templates(account)
        lines = [f"  {t.get('name')} ({t.get('language')}): {t.get('status')}" for t in remote]
        return {"templates": remote}, f"{len(remote)} template(s) on Meta:\n" + "\n".join(lines)

    def send_text(self, account: Any, options: dict[str, Any]) -> tuple[dict, str]:
        return self._send(account, options["to"], "text", content={"body": options["message"]})

    def send_template(self, account: Any, options: dict[str, Any]) -> tuple[dict, str]:
        return self._send(account, options["to"], "template", template_name=options["template"],
                          template_language=options["language"])  # fmt: skip

    def _send(self, account: Any, to: str, message_type: str, **kwargs: Any) -> tuple[dict, str]:
        message = send_message(account, recipient_wa_id(to), message_type, enqueue=False, **kwargs)
        if message.status == Message.Status.FAILED:
            raise CommandError(f"the test message failed: {message.error_code} {message.error_message}")
        return {"message": describe(message)}, f"Sent {message_type} to {to}: {message.wamid}."
