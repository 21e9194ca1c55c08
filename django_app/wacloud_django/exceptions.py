"""Errors raised by the Django app. Each subclasses the builtin (or Django
exception) it means, as in the core package's tree."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation

from wacloud.errors import WacloudError


class SettingError(ImproperlyConfigured):
    """A ``WACLOUD`` setting is missing or invalid; ``setting`` names it
    (``"ENCRYPTION_KEY"`` for ``WACLOUD["ENCRYPTION_KEY"]``)."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(message)
        self.setting = setting


class EnvironmentSettingError(ImproperlyConfigured):
    """A ``WHATSAPP_*`` environment variable is missing or invalid; ``variable`` names it."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(message)
        self.variable = variable


class WebhookValidationFailure(WacloudError, SuspiciousOperation):
    """A webhook request that is not provably from Meta: missing or forged
    ``X-Hub-Signature-256``, a signature made with another account's app secret,
    or no app secret to check it against. Nothing from such a request is stored."""


class DecryptionError(WacloudError, ValueError):
    """A value encrypted at rest cannot be decrypted: it was altered, or it was
    encrypted with a key that is not ``WACLOUD["ENCRYPTION_KEY"]`` (nor a fallback)."""


class AccountNotFound(WacloudError, LookupError):
    """No ``BusinessAccount`` matches the phone number id or WABA id given."""


class AccountNotConfigured(WacloudError, ValueError):
    """The ``BusinessAccount`` lacks what the operation needs (e.g. an access token)."""


class ItemRejected(WacloudError, ValueError):
    """One item of a webhook (a message, a status) cannot be stored: an id longer than any
    Meta sends, an account its signer may not speak for, another account's message. It is
    recorded on the event's ``item_errors``; the other items are stored."""
