"""Secrets at rest: AES-256-GCM with ``WACLOUD["ENCRYPTION_KEY"]``.

Token format (ASCII, safe in a text column)::

    wac1:<key id>:<base64url(nonce || ciphertext || tag)>

- ``wac1`` versions the format, so a later scheme can be told apart.
- ``key id`` is 8 hex chars of a hash of the key: decrypting with the wrong key
  is reported as such instead of as tampering, and ``ENCRYPTION_KEY_FALLBACKS``
  (old keys kept during a rotation) are found without trial decryption.
- the nonce is 96 random bits, fresh for every encryption.
- the *purpose* (e.g. ``wacloud.BusinessAccount.access_token``) is the AEAD's
  associated data: a ciphertext copied into another column fails to decrypt.

Without ``ENCRYPTION_KEY`` a key is derived from ``SECRET_KEY`` (HKDF-SHA256) and
system check ``wacloud.W001`` warns: rotating ``SECRET_KEY`` would then make the
stored secrets unreadable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from .conf import get_setting, parse_encryption_key, setting_name
from .exceptions import DecryptionError, SettingError

VERSION = "wac1"
NONCE_BYTES = 12
_TAG_BYTES = 16


def _key_id(key: bytes) -> str:
    return hashlib.sha256(b"wacloud-key-id:" + key).hexdigest()[:8]


def _derived_key() -> bytes:
    secret = getattr(settings, "SECRET_KEY", "")
    if not secret:
        raise SettingError(
            "ENCRYPTION_KEY",
            f"{setting_name('ENCRYPTION_KEY')} is not set and there is no SECRET_KEY to derive a key from",
        )
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"wacloud.encryption-key").derive(
        secret.encode()
    )


def current_key() -> bytes:
    """The key new values are encrypted with."""
    configured = get_setting("ENCRYPTION_KEY")
    if configured is None or configured == "":
        return _derived_key()
    return parse_encryption_key(configured)


def _all_keys() -> dict[str, bytes]:
    keys = {}
    key = current_key()
    keys[_key_id(key)] = key
    fallbacks = get_setting("ENCRYPTION_KEY_FALLBACKS") or []
    if not isinstance(fallbacks, (list, tuple)):
        raise SettingError(
            "ENCRYPTION_KEY_FALLBACKS", f"{setting_name('ENCRYPTION_KEY_FALLBACKS')} must be a list"
        )
    for value in fallbacks:
        old = parse_encryption_key(value, "ENCRYPTION_KEY_FALLBACKS")
        keys.setdefault(_key_id(old), old)
    return keys


def current_key_id() -> str:
    """The id of :func:`current_key`, as written in every new token."""
    return _key_id(current_key())


def keys_by_id() -> dict[str, bytes]:
    """Every configured key (the current one first, then the fallbacks) by its id."""
    return _all_keys()


def token_key_id(token: str) -> str | None:
    """The key id written in a token made by :func:`encrypt`, read without decrypting;
    ``None`` when ``token`` is not one."""
    parts = token.split(":")
    return parts[1] if len(parts) == 3 and parts[0] == VERSION else None


def _aad(purpose: str) -> bytes:
    return f"{VERSION}:{purpose}".encode()


def encrypt(plaintext: str, purpose: str) -> str:
    """Encrypt ``plaintext`` for the column named by ``purpose``."""
    key = current_key()
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), _aad(purpose))
    payload = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
    return f"{VERSION}:{_key_id(key)}:{payload}"


def decrypt(token: str, purpose: str) -> str:
    """The plaintext of a token made by :func:`encrypt` with the same ``purpose``."""
    parts = token.split(":")
    if len(parts) != 3 or parts[0] != VERSION:
        raise DecryptionError(
            f"{purpose}: not a {VERSION} encrypted value (format is {VERSION}:<key>:<data>)"
        )
    _, key_id, payload = parts
    key = _all_keys().get(key_id)
    if key is None:
        raise DecryptionError(
            f"{purpose} was encrypted with key {key_id}, which is neither "
            f"{setting_name('ENCRYPTION_KEY')} nor one of {setting_name('ENCRYPTION_KEY_FALLBACKS')}"
        )
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    except (binascii.Error, ValueError) as exc:
        raise DecryptionError(f"{purpose}: the encrypted value is not valid base64") from exc
    if len(raw) < NONCE_BYTES + _TAG_BYTES:
        raise DecryptionError(f"{purpose}: the encrypted value is truncated")
    try:
        plaintext = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(purpose))
    except InvalidTag as exc:
        raise DecryptionError(
            f"{purpose}: the encrypted value was altered or belongs to another field "
            f"(authentication failed under {setting_name('ENCRYPTION_KEY')} key {key_id})"
        ) from exc
    return plaintext.decode()


def encrypted_property(stored_field: str, purpose: str) -> property:
    """A model attribute that reads and writes ``stored_field`` through AES-GCM.

    It is a plain ``property``, so ``Model(access_token="...")`` and
    ``objects.create(access_token=...)`` work; an empty value is stored empty."""

    def fget(instance: Any) -> str:
        token = getattr(instance, stored_field)
        return decrypt(token, purpose) if token else ""

    def fset(instance: Any, value: str | None) -> None:
        setattr(instance, stored_field, encrypt(value, purpose) if value else "")

    return property(fget, fset, doc=f"Decrypted value of ``{stored_field}`` (AES-256-GCM at rest).")
