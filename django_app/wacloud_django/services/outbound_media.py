"""Outbound media: the accepted spellings of a send's ``media``, the checks Meta would make
on a file before it is stored, the outbox copy of the file, and its upload at delivery."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction

from wacloud.errors import DeliveryUnknown, InvalidParameter, TransientError
from wacloud.media import check as check_media

from ..models import BusinessAccount, MediaFile, Message

MEDIA_TYPES = frozenset({"image", "video", "audio", "document", "sticker"})


@dataclass(frozen=True)
class Upload:
    data: bytes
    mime_type: str
    filename: str
    sha256: str


def media_spec(media: Any) -> dict[str, Any]:
    """Any accepted spelling of ``media`` as one dict."""
    if isinstance(media, Mapping):
        spec = {key: value for key, value in media.items() if value not in (None, "")}
        if "media_id" in spec:
            spec["id"] = spec.pop("media_id")
        if len({"id", "link", "path", "data"} & set(spec)) != 1:
            raise InvalidParameter("media: give exactly one of id, link, path or data", code=100)
        return spec
    if isinstance(media, (bytes, bytearray, memoryview)):
        return {"data": bytes(media)}
    if isinstance(media, os.PathLike):
        return {"path": os.fspath(media)}
    if hasattr(media, "read"):  # a Django File / UploadedFile or an open binary file
        if hasattr(media, "seek"):
            media.seek(0)
        name = os.path.basename(getattr(media, "name", "") or "")
        return {"data": media.read(), "filename": name, "mime_type": getattr(media, "content_type", None)}
    if isinstance(media, str):
        if media.isdigit():
            return {"id": media}
        if media.startswith(("https://", "http://")):
            return {"link": media}
        if os.path.isfile(media):
            return {"path": media}
        raise InvalidParameter(
            f"media: {media[:80]!r} is not a media id, an http(s) link or an existing file", code=100
        )
    raise InvalidParameter(f"media: unsupported value of type {type(media).__name__}", code=100)


def checked_upload(message_type: str, spec: dict[str, Any]) -> Upload:
    if "path" in spec:
        with open(spec["path"], "rb") as handle:  # OSError (missing, unreadable) is the caller's to see
            data = handle.read()
        filename = spec.get("filename") or os.path.basename(spec["path"])
    else:
        data = spec["data"]
        if not isinstance(data, (bytes, bytearray)):
            raise InvalidParameter("media: data must be bytes", code=100)
        data = bytes(data)
        filename = spec.get("filename") or ""
    info = check_media(data, spec.get("mime_type"))  # MediaRejected says why Meta would refuse it
    if info.kind.value != message_type:
        raise InvalidParameter(
            f"media: {info.mime} is sent as {info.kind.value}, not as {message_type}", code=100
        )
    extension = info.mime.split("/")[-1].split(";")[0].split("+")[0]
    return Upload(data, info.mime, filename or f"upload.{extension}", info.sha256)


def store_upload(account: BusinessAccount, message: Message, upload: Upload, fields: dict) -> None:
    # Kept with the message so a retry (or another worker) can upload it again if needed.
    media_file = MediaFile(
        account=account,
        message=message,
        media_id="",
        mime_type=upload.mime_type,
        size=len(upload.data),
        sha256=upload.sha256,
        filename=upload.filename,
        caption=fields.get("caption") or "",
        # Outbound: the file is ours already, so no downloader must ever fetch it.
        download_status=MediaFile.DownloadStatus.DOWNLOADED,
    )
    media_file.file.save(upload.filename, ContentFile(upload.data), save=False)
    media_file.save()


def upload_pending_media(client: Any, message: Message) -> None:
    if message.type not in MEDIA_TYPES or message.content.get("media_id") or message.content.get("link"):
        return
    media_file = message.media.filter(media_id="").first()
    if media_file is None:
        raise InvalidParameter("media: the file to upload is missing from the outbox", code=100)
    with media_file.file.open("rb") as handle:
        data = handle.read()
    try:
        media_id = client.upload_media(data, media_file.mime_type, filename=media_file.filename or None)
    except DeliveryUnknown as error:
        # An upload is invisible to the customer: uploading again is safe, unlike a send.
        raise TransientError(f"media upload: {error}", retriable=True) from error
    # Stored at once: a retry of the send must not upload the file a second time.
    with transaction.atomic():
        MediaFile.objects.filter(pk=media_file.pk).update(media_id=media_id)
        message.content = {**message.content, "media_id": media_id}
        Message.objects.filter(pk=message.pk).update(content=message.content)
