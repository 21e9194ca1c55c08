"""Send one message from the command line, through the same outbox as the app."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandError, CommandParser

from wacloud.errors import WacloudError

from ...exceptions import AccountNotConfigured
from ...models import Message
from ...services.outbound import MEDIA_TYPES, send_message
from ...services.recipients import recipient_wa_id
from ..base import WacloudCommand


def describe(message: Message) -> dict[str, Any]:
    return {
        "id": message.pk,
        "to": message.contact.wa_id if message.contact else None,
        "type": message.type,
        "status": message.status,
        "wamid": message.wamid,
        "error_code": message.error_code,
        "error": message.error_message or None,
        "failure_kind": message.failure_kind or None,
    }


class Command(WacloudCommand):
    help = "Send a text, template or media message (free-form needs the customer's 24-hour window)."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--to", required=True, help="the recipient's number, any format")
        kind = parser.add_mutually_exclusive_group(required=True)
        kind.add_argument("--text", help="a text message")
        kind.add_argument("--template", metavar="NAME", help="an approved template")
        for media in sorted(MEDIA_TYPES):
            kind.add_argument(f"--{media}", metavar="FILE|URL|MEDIA_ID", help=f"send {media} media")
        parser.add_argument("--language", default="en_US", help="template language (default en_US)")
        parser.add_argument("--components", help="template components as JSON (Meta's format)")
        parser.add_argument("--caption", help="media caption")
        parser.add_argument("--filename", help="document file name shown to the recipient")
        parser.add_argument("--reply-to", metavar="WAMID", help="quote this message")
        parser.add_argument("--queue", action="store_true", help="leave it to the outbox worker")

    def handle(self, *args: Any, **options: Any) -> None:
        account = self.selected_account(options)
        media_type = next((m for m in sorted(MEDIA_TYPES) if options[m]), None)
        kwargs: dict[str, Any] = {"reply_to": options["reply_to"], "enqueue": options["queue"]}
        if options["text"] is not None:
            kwargs.update(message_type="text", content={"body": options["text"]})
        elif options["template"]:
            kwargs.update(
                message_type="template",
                template_name=options["template"],
                template_language=options["language"],
                template_components=self.components(options),
            )
        else:
            content = {key: options[key] for key in ("caption", "filename") if options[key]}
            kwargs.update(message_type=media_type, content=content, media=options[media_type])
        try:
            message = send_message(account, recipient_wa_id(options["to"]), **kwargs)
        except (WacloudError, AccountNotConfigured, ValueError, OSError) as error:
            raise CommandError(f"Not sent: {error}") from None
        message.refresh_from_db()  # with --queue an inline send has already run after the commit
        data = describe(message)
        text = f"Message {message.pk} to {data['to']}: {message.status}"
        if message.wamid:
            text += f" ({message.wamid})"
        if message.error_message:
            code = f" {message.error_code}" if message.error_code else ""
            text += f"; error{code}: {message.error_message}"
        self.emit(options, data, text)
        if message.status == Message.Status.FAILED:
            raise CommandError(f"Message {message.pk} failed: {message.error_message or message.error_title}")

    @staticmethod
    def components(options: dict[str, Any]) -> list[Any] | None:
        if not options["components"]:
            return None
        try:
            value = json.loads(options["components"])
        except ValueError as error:
            raise CommandError(f"--components is not valid JSON: {error}") from None
        if not isinstance(value, list):
            raise CommandError("--components must be a JSON list of component objects.")
        return value
