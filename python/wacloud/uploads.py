"""Meta's Resumable Upload API, as :meth:`wacloud.Client.upload_resumable`: the file handle
it returns goes where Meta wants a handle rather than a media id, the ``header_handle`` of a
template's example media and the business profile's ``profile_picture_handle``.

The transfer runs in the C++ core (a file is streamed off disk, never read whole). When it is
cut off, the core asks Meta how many bytes it holds and sends only the rest, up to the
client's ``max_retries`` times; if it still fails, the error carries ``upload_session_id``,
which a later ``upload_resumable(..., session_id=...)`` continues from where Meta stopped.

>>> handle = client.upload_resumable("logo.png")                       # doctest: +SKIP
>>> client.update_business_profile(profile_picture_handle=handle)      # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any

from . import _graph
from .errors import GraphAPIError
from .media import sniff_mime

__all__ = ["UPLOAD_MIME_TYPES", "ResumableUploads"]

#: The file types Meta's Resumable Upload API takes.
UPLOAD_MIME_TYPES = ("application/pdf", "image/jpeg", "image/jpg", "image/png", "video/mp4")


class ResumableUploads:
    _core: Any
    _app_id: str | None

    def upload_resumable(
        self,
        path_or_bytes: str | os.PathLike[str] | bytes | bytearray | memoryview,
        mime_type: str | None = None,
        *,
        file_name: str | None = None,
        app_id: str | None = None,
        session_id: str | None = None,
    ) -> str:
        """Upload a PDF, JPEG, PNG or MP4 file and return Meta's handle for it. ``mime_type``
        is sniffed from the content when not given. The session belongs to the app
        ``app_id``, by default the access token's app (asked of Meta once per client).
        ``session_id`` continues an interrupted upload instead of starting one."""
        path, data = "", None
        if isinstance(path_or_bytes, (str, os.PathLike)):
            path = os.fspath(path_or_bytes)
            length = os.path.getsize(path)  # FileNotFoundError for a missing file
            name = file_name or os.path.basename(path)
        elif isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
            data = bytes(path_or_bytes)
            length = len(data)
            name = file_name or "upload"
        else:
            raise TypeError(f"path_or_bytes must be a path or bytes, not {type(path_or_bytes).__name__}")
        if length == 0:
            raise _graph.refuse("file", "is empty")
        mime = mime_type or sniff_mime(path or data)  # type: ignore[arg-type]
        if mime is None:
            raise _graph.refuse("mime_type", "could not be told from the content; give it")
        mime = _graph.choice(mime, "mime_type", UPLOAD_MIME_TYPES)
        if session_id is None:
            session_id = self._core.start_upload_session(self._upload_app_id(app_id), name, mime, length)
        try:
            return self._core.upload_to_session(session_id, data, path, name, mime)
        except GraphAPIError as error:
            # The bytes Meta already holds are kept: the caller can continue this session.
            error.upload_session_id = session_id  # type: ignore[attr-defined]
            if hasattr(error, "add_note"):  # Python 3.11+
                error.add_note(f"upload session {session_id}: pass it as session_id= to continue")
            raise

    def upload_session_offset(self, session_id: str) -> int:
        """How many bytes of an upload session Meta holds."""
        return int(self._core.upload_session_offset(session_id))

    def _upload_app_id(self, app_id: str | None) -> str:
        if app_id is not None:
            return _graph.digits(app_id, "app_id")
        if not getattr(self, "_app_id", None):
            self._app_id = self.debug_token().app_id  # type: ignore[attr-defined]
        if not self._app_id:
            raise _graph.refuse("app_id", "is unknown: the token's app could not be told; give app_id")
        return self._app_id
