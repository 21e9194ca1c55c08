"""Files at rest: AES-256-GCM in chunks, so a 100 MB media file is encrypted and
decrypted while it streams, never held whole in memory.

File format::

    b"wacf1:" <key id, 8 ASCII hex> b":" <nonce prefix, 7 bytes>   (the header)
    chunk 0, chunk 1, ... chunk n-1

- every chunk but the last holds :data:`CHUNK_BYTES` of plaintext, sealed as
  ciphertext plus a 16-byte tag; the last holds what is left (possibly nothing);
- chunk ``i``'s nonce is ``prefix || i (4 bytes, big endian) || last flag (1 byte)``
  (the STREAM construction): chunks cannot be reordered, and a file cut at a chunk
  boundary fails because its new last chunk was not sealed as the last;
- the associated data is the header and the purpose (``wacloud.MediaFile.file``).

The key id is the one :mod:`wacloud_django.crypto` writes in its tokens, so
``ENCRYPTION_KEY_FALLBACKS`` decrypt old files and key rotation finds them by their header.
"""

from __future__ import annotations

import io
import os
from typing import IO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .conf import setting_name
from .crypto import current_key, current_key_id, keys_by_id
from .exceptions import DecryptionError

MAGIC = b"wacf1:"
_KEY_ID_BYTES = 8
_PREFIX_BYTES = 7
HEADER_BYTES = len(MAGIC) + _KEY_ID_BYTES + 1 + _PREFIX_BYTES
CHUNK_BYTES = 64 * 1024
_TAG_BYTES = 16


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + counter.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def _read_full(source: IO[bytes], size: int) -> bytes:
    """``size`` bytes, fewer only at the end of ``source`` (streams may return short reads)."""
    parts, missing = [], size
    while missing:
        part = source.read(missing)
        if not part:
            break
        parts.append(part)
        missing -= len(part)
    return b"".join(parts)


def header_key_id(head: bytes) -> str | None:
    """The key id in the first :data:`HEADER_BYTES` of a file; ``None`` when it is not encrypted."""
    if len(head) < HEADER_BYTES or not head.startswith(MAGIC):
        return None
    return head[len(MAGIC) : len(MAGIC) + _KEY_ID_BYTES].decode("ascii", errors="replace")


def encrypted_size(plaintext_size: int) -> int:
    chunks = max(1, -(-plaintext_size // CHUNK_BYTES))
    return HEADER_BYTES + plaintext_size + chunks * _TAG_BYTES


class _ChunkReader(io.RawIOBase):
    """A readable raw stream producing its bytes one sealed or opened chunk at a time."""

    def __init__(self) -> None:
        super().__init__()
        self._pending = memoryview(b"")
        self._done = False

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending and not self._done:
            self._fill()
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


class EncryptingReader(_ChunkReader):
    """Reads as the encrypted form of ``source`` (a binary file read from its start)."""

    def __init__(self, source: IO[bytes], purpose: str, plaintext_size: int | None = None) -> None:
        super().__init__()
        key = current_key()
        prefix = os.urandom(_PREFIX_BYTES)
        header = MAGIC + current_key_id().encode("ascii") + b":" + prefix
        self._aead, self._prefix, self._aad = AESGCM(key), prefix, header + purpose.encode()
        self._source, self._counter = source, 0
        self._pending = memoryview(header)
        self._next = _read_full(source, CHUNK_BYTES)
        self.size = encrypted_size(plaintext_size) if plaintext_size is not None else None

    def _fill(self) -> None:
        chunk, self._next = self._next, _read_full(self._source, CHUNK_BYTES)
        last = not self._next  # looked ahead: the last chunk is sealed as such
        sealed = self._aead.encrypt(_nonce(self._prefix, self._counter, last), chunk, self._aad)
        self._pending = memoryview(sealed)
        self._counter += 1
        self._done = last


class DecryptingReader(_ChunkReader):
    """Reads as the plaintext of ``source``, an encrypted file positioned at its header.
    Raises :class:`DecryptionError` for an unknown key, an altered or a truncated file."""

    def __init__(self, source: IO[bytes], purpose: str) -> None:
        super().__init__()
        header = _read_full(source, HEADER_BYTES)
        key_id = header_key_id(header)
        if key_id is None:
            raise DecryptionError(f"{purpose}: not a {MAGIC.decode()} encrypted file")
        key = keys_by_id().get(key_id)
        if key is None:
            raise DecryptionError(
                f"{purpose} was encrypted with key {key_id}, which is neither "
                f"{setting_name('ENCRYPTION_KEY')} nor one of {setting_name('ENCRYPTION_KEY_FALLBACKS')}"
            )
        self.key_id, self._purpose = key_id, purpose
        self._aead, self._prefix = AESGCM(key), header[-_PREFIX_BYTES:]
        self._aad = header + purpose.encode()
        self._source, self._counter = source, 0
        self._next = _read_full(source, CHUNK_BYTES + _TAG_BYTES)

    def _fill(self) -> None:
        block, self._next = self._next, _read_full(self._source, CHUNK_BYTES + _TAG_BYTES)
        last = not self._next
        try:
            opened = self._aead.decrypt(_nonce(self._prefix, self._counter, last), block, self._aad)
        except InvalidTag as exc:
            raise DecryptionError(
                f"{self._purpose}: the encrypted file was altered or truncated "
                f"(authentication failed under key {self.key_id})"
            ) from exc
        self._pending = memoryview(opened)
        self._counter += 1
        self._done = last

    def close(self) -> None:
        self._source.close()
        super().close()


def encrypting(source: IO[bytes], purpose: str, plaintext_size: int | None = None) -> io.BufferedReader:
    """``source`` encrypted, as a buffered binary stream (full reads, ``read()`` to the end)."""
    return io.BufferedReader(EncryptingReader(source, purpose, plaintext_size), CHUNK_BYTES)


def decrypting(source: IO[bytes], purpose: str) -> io.BufferedReader:
    return io.BufferedReader(DecryptingReader(source, purpose), CHUNK_BYTES)


__all__ = [
    "CHUNK_BYTES",
    "HEADER_BYTES",
    "MAGIC",
    "DecryptingReader",
    "EncryptingReader",
    "decrypting",
    "encrypted_size",
    "encrypting",
    "header_key_id",
]
