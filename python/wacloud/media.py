"""Media checks before an upload: SHA-256, MIME sniffing by magic bytes, and the
types and sizes WhatsApp accepts. All the work runs in the C++ core with the
GIL released.

Data is any bytes-like object (``bytes``, ``bytearray``, ``memoryview``,
``mmap``); a path is ``str``, ``bytes`` or ``os.PathLike``. Functions taking
either treat ``str`` and ``os.PathLike`` as paths and bytes-like objects as
content."""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

from . import _core

__all__ = [
    "MEDIA_RULES",
    "MediaInfo",
    "MediaKind",
    "MediaRule",
    "check",
    "kind_for_mime",
    "sha256_bytes",
    "sha256_bytes_base64",
    "sha256_file",
    "sha256_file_base64",
    "sniff_mime",
]

BytesLike = bytes | bytearray | memoryview
StrPath = str | os.PathLike[str]


class MediaKind(str, Enum):
    """How WhatsApp sends a media type: the ``type`` of a media message."""

    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    DOCUMENT = "document"
    STICKER = "sticker"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class MediaRule:
    """The MIME types WhatsApp accepts for one kind and its size limits in bytes.
    ``max_size_animated`` differs from ``max_size`` only for stickers."""

    kind: MediaKind
    mime_types: tuple[str, ...]
    max_size: int
    max_size_animated: int


# Meta's "Supported media types" table, read from the core (its single source).
# Sizes use binary units: 5 MB is 5 * 1024 * 1024 bytes, 100 KB is 102400 bytes.
MEDIA_RULES: Mapping[MediaKind, MediaRule] = MappingProxyType(
    {
        MediaKind(kind): MediaRule(MediaKind(kind), tuple(mime_types), max_size, max_size_animated)
        for kind, mime_types, max_size, max_size_animated in _core.media_rules()
    }
)


@dataclass(frozen=True)
class MediaInfo:
    """What :func:`check` found: the MIME type to upload with (the declared one
    when given, else the sniffed one), the kind it is sent as, the size in bytes,
    the lowercase hex SHA-256 and whether a WebP sticker is animated."""

    mime: str
    kind: MediaKind
    size: int
    sha256: str
    animated: bool = False

    @property
    def sha256_base64(self) -> str:
        """The same digest in base64, the form some of Meta's payloads use."""
        return base64.b64encode(bytes.fromhex(self.sha256)).decode("ascii")


def _supports_buffer(value: object) -> bool:
    # Any object exporting a buffer (bytes, bytearray, memoryview, mmap, array).
    if isinstance(value, (str, os.PathLike)):
        return False
    try:
        memoryview(value)  # type: ignore[arg-type]
    except TypeError:
        return False
    return True


def _require_bytes(function: str, data: object) -> None:
    if isinstance(data, str):
        raise TypeError(
            f"{function}() takes bytes-like data, not str; encode it or pass it to a *_file function"
        )
    if not _supports_buffer(data):
        raise TypeError(f"{function}() takes bytes-like data, not {type(data).__name__}")


def _require_path(function: str, path: object) -> None:
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{function}() takes a path (str, bytes or os.PathLike), not {type(path).__name__}")


def sha256_bytes(data: BytesLike) -> str:
    """The SHA-256 of ``data`` as lowercase hex."""
    _require_bytes("sha256_bytes", data)
    return _core.sha256_hex(data)


def sha256_bytes_base64(data: BytesLike) -> str:
    """The SHA-256 of ``data`` as padded standard base64."""
    _require_bytes("sha256_bytes_base64", data)
    return _core.sha256_base64(data)


def sha256_file(path: StrPath | bytes) -> str:
    """The SHA-256 of a file as lowercase hex, read in 1 MiB chunks. Raises
    ``OSError`` (e.g. ``FileNotFoundError``) when it cannot be read."""
    _require_path("sha256_file", path)
    return _core.sha256_file_hex(path)


def sha256_file_base64(path: StrPath | bytes) -> str:
    """The SHA-256 of a file as padded standard base64."""
    _require_path("sha256_file_base64", path)
    return _core.sha256_file_base64(path)


def sniff_mime(data_or_path: BytesLike | StrPath) -> str | None:
    """The MIME type the content looks like from its magic bytes, or ``None``.

    A bytes-like argument is the content; ``str`` or ``os.PathLike`` is a file,
    of which only the first and last 64 KiB are read. Besides the types WhatsApp
    accepts this recognises a few it refuses (``image/gif``, ``video/quicktime``,
    ...), ``application/zip`` for a zip without Office parts and
    ``application/x-ole-storage`` for a legacy Office container."""
    if isinstance(data_or_path, (str, os.PathLike)):
        mime = _core.sniff_mime_file(data_or_path)
    elif _supports_buffer(data_or_path):
        mime = _core.sniff_mime(data_or_path)
    else:
        raise TypeError(f"sniff_mime() takes bytes-like data or a path, not {type(data_or_path).__name__}")
    return mime or None


def check(path_or_bytes: StrPath | BytesLike, declared_mime: str | None = None) -> MediaInfo:
    """Check media as WhatsApp would before uploading it.

    Sniffs the content, reconciles it with ``declared_mime`` (``None`` or ``""``:
    use the sniffed type), and enforces the accepted types and the size limit of
    the kind. Raises :class:`wacloud.MediaRejected` saying why (empty, type not
    accepted, content not matching the declared type, too large with both sizes),
    ``OSError`` for an unreadable file and ``TypeError`` for wrong arguments. A
    file is read once, hashing as it goes."""
    if declared_mime is not None and not isinstance(declared_mime, str):
        raise TypeError(f"declared_mime must be a str or None, not {type(declared_mime).__name__}")
    declared = declared_mime or ""
    if isinstance(path_or_bytes, (str, os.PathLike)):
        result = _core.check_media_file(path_or_bytes, declared)
    elif _supports_buffer(path_or_bytes):
        result = _core.check_media(path_or_bytes, declared)
    else:
        raise TypeError(f"check() takes a path or bytes-like data, not {type(path_or_bytes).__name__}")
    mime, kind, size, sha256, animated = result
    return MediaInfo(mime=mime, kind=MediaKind(kind), size=size, sha256=sha256, animated=animated)


def kind_for_mime(mime: str) -> MediaKind | None:
    """The kind WhatsApp sends ``mime`` as, or ``None`` when it does not accept
    it. Case and parameters are ignored; Meta's ``video/3gp`` means ``video/3gpp``."""
    if not isinstance(mime, str):
        raise TypeError(f"kind_for_mime() takes a str, not {type(mime).__name__}")
    kind = _core.kind_for_mime(mime)
    return MediaKind(kind) if kind is not None else None
