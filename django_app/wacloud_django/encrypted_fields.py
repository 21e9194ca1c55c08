"""Model fields that keep what customers wrote and sent encrypted at rest.

- ``WACLOUD["ENCRYPT_MESSAGES"]``: :class:`EncryptedTextField` and
  :class:`EncryptedJSONField` store a non-empty value as a :mod:`~wacloud_django.crypto`
  token (``wac1:<key id>:<data>``) whose purpose is the column (``wacloud.Message.text``).
- ``WACLOUD["ENCRYPT_MEDIA"]``: :class:`EncryptedFileField` stores file content in the
  chunked format of :mod:`~wacloud_django.stream_crypto`.

Reads decrypt whatever is encrypted, whatever the settings say now: rows written before
encryption was turned on stay readable (plaintext is recognised), and so do rows
encrypted before it was turned off. A plaintext that happens to look like a token (or a
file that starts like an encrypted one) is always stored encrypted, so the two are never
confused. Encryption happens in ``get_db_prep_save``, which ``save()``, ``update()``,
``bulk_create()`` and ``bulk_update()`` all go through, and never in lookups: a filter
on an encrypted column compares ciphertext and finds nothing (docs/privacy.md).

The columns are those of the plain fields (``deconstruct`` says so): turning encryption
on or off needs no migration.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.core.files import File
from django.db import models
from django.db.models.fields.files import FieldFile
from django.db.models.fields.json import KeyTransform

from .conf import get_setting, setting_name
from .crypto import decrypt, encrypt
from .exceptions import SettingError
from .stream_crypto import MAGIC, decrypting, encrypting

# nonce (12) + tag (16) bytes at least: 38 base64url characters.
_TOKEN = re.compile(r"^wac1:[0-9a-f]{8}:[A-Za-z0-9_-]{38,}$")


# Set by key rotation: what it rewrites stays encrypted even with the settings off.
_FORCED: ContextVar[bool] = ContextVar("wacloud_encryption_forced", default=False)


@contextmanager
def encryption_forced() -> Iterator[None]:
    """Inside: every write of an encrypted field encrypts, whatever the settings say."""
    reset = _FORCED.set(True)
    try:
        yield
    finally:
        _FORCED.reset(reset)


def _flag(name: str) -> bool:
    if _FORCED.get():
        return True
    value = get_setting(name)
    if not isinstance(value, bool):
        raise SettingError(name, f"{setting_name(name)} must be True or False, got {value!r}")
    return value


def messages_encrypted() -> bool:
    """Whether message text and content are written encrypted (``WACLOUD["ENCRYPT_MESSAGES"]``)."""
    return _flag("ENCRYPT_MESSAGES")


def media_encrypted() -> bool:
    """Whether media files are written encrypted (``WACLOUD["ENCRYPT_MEDIA"]``)."""
    return _flag("ENCRYPT_MEDIA")


def looks_encrypted(value: Any) -> bool:
    return isinstance(value, str) and _TOKEN.match(value) is not None


def is_redaction_marker(value: Any) -> bool:
    """The marker retention writes over redacted content (``{"redacted": True, "at": ...}``):
    it holds nothing anyone wrote, and stays in clear so ``content__has_key="redacted"`` finds it."""
    return isinstance(value, dict) and value.get("redacted") is True and set(value) <= {"redacted", "at"}


class _EncryptedMixin:
    """What the encrypted fields share: the purpose (``app_label.Model.field``) and ``deconstruct``."""

    plain_path = ""

    @property
    def purpose(self) -> str:
        return f"{self.model._meta.label}.{self.name}"  # type: ignore[attr-defined]

    def deconstruct(self) -> Any:
        name, _path, args, kwargs = super().deconstruct()  # type: ignore[misc]
        return name, self.plain_path, args, kwargs


class EncryptedTextField(_EncryptedMixin, models.TextField):
    plain_path = "django.db.models.TextField"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return decrypt(value, self.purpose) if looks_encrypted(value) else value

    def get_db_prep_save(self, value: Any, connection: Any) -> Any:
        if isinstance(value, str) and value and (messages_encrypted() or looks_encrypted(value)):
            value = encrypt(value, self.purpose)
        return super().get_db_prep_save(value, connection)


class EncryptedJSONField(_EncryptedMixin, models.JSONField):
    """The whole JSON document is one token, stored as a JSON string."""

    plain_path = "django.db.models.JSONField"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        value = super().from_db_value(value, expression, connection)
        if looks_encrypted(value) and not isinstance(expression, KeyTransform):
            return json.loads(decrypt(value, self.purpose), cls=self.decoder)
        return value

    def get_db_prep_save(self, value: Any, connection: Any) -> Any:
        if (
            value not in (None, {}, [], "")
            and not hasattr(value, "resolve_expression")
            and not is_redaction_marker(value)
            and (messages_encrypted() or looks_encrypted(value))
        ):
            value = encrypt(json.dumps(value, cls=self.encoder), self.purpose)
        return super().get_db_prep_save(value, connection)


def _starts_encrypted(content: Any) -> bool:
    """Whether ``content`` (a Django ``File``) begins like an encrypted file."""
    try:
        content.seek(0)
        head = content.read(len(MAGIC))
        content.seek(0)
    except (AttributeError, OSError, ValueError):
        return False
    return head == MAGIC if isinstance(head, bytes) else False


def open_stored(storage: Any, name: str, purpose: str) -> Any:
    """A binary file of the plaintext stored under ``name``: decrypted when it is encrypted."""
    handle = storage.open(name, "rb")
    try:
        head = handle.read(len(MAGIC))
        handle.seek(0)
    except Exception:
        handle.close()
        raise
    if head != MAGIC:
        return handle
    return File(decrypting(handle, purpose), name=name)


class EncryptedFieldFile(FieldFile):
    """Reads decrypt (``open()``, ``read()``, ``chunks()``); ``save()`` encrypts when
    ``WACLOUD["ENCRYPT_MEDIA"]`` is on. ``storage.open(name)`` still gives the stored bytes."""

    def _get_file(self) -> Any:
        self._require_file()
        if getattr(self, "_file", None) is None:
            self._file = open_stored(self.storage, self.name, self.field.purpose)
        return self._file

    file = property(_get_file, FieldFile._set_file, FieldFile._del_file)

    def open(self, mode: str = "rb") -> EncryptedFieldFile:
        if "w" in mode or "a" in mode or "+" in mode:
            return super().open(mode)  # type: ignore[return-value]
        self._require_file()
        if getattr(self, "_file", None) is not None:
            self._file.close()
        self._file = open_stored(self.storage, self.name, self.field.purpose)
        return self

    def save(self, name: str, content: Any, save: bool = True) -> None:
        if media_encrypted() or _starts_encrypted(content):
            size = getattr(content, "size", None)
            try:
                content.seek(0)
            except (AttributeError, OSError, ValueError):
                pass  # a stream read from where it is
            content = File(encrypting(content, self.field.purpose, size), name=name)
        super().save(name, content, save)


class EncryptedFileField(_EncryptedMixin, models.FileField):
    attr_class = EncryptedFieldFile
    plain_path = "django.db.models.FileField"


__all__ = [
    "EncryptedFieldFile",
    "EncryptedFileField",
    "EncryptedJSONField",
    "EncryptedTextField",
    "encryption_forced",
    "is_redaction_marker",
    "looks_encrypted",
    "media_encrypted",
    "messages_encrypted",
    "open_stored",
]
