"""Inbound media: download through the account's client (which streams to disk
and checks Meta's SHA-256), then store in ``WACLOUD["MEDIA_STORAGE"]``."""

from __future__ import annotations

import mimetypes
import tempfile
from pathlib import Path

from django.core.files import File
from django.db.models import F
from django.utils import timezone

from wacloud import media as wacloud_media

from ..conf import use_celery
from ..log_privacy import get_logger
from ..models import BusinessAccount, MediaFile
from .accounts import client_for_account

logger = get_logger("wacloud.media")


def schedule_download(media_file_id: int) -> None:
    """Download on Celery, or inline. Never raises: a failure is recorded on the row."""
    try:
        if use_celery():
            from ..tasks import download_media

            download_media.delay(media_file_id)
            return
    except Exception:
        logger.exception("could not queue the download of media file %s", media_file_id)
        return
    try:
        download_media_file(media_file_id)
    except Exception:
        logger.exception("media file %s could not be downloaded inline", media_file_id)


def _file_name(media_file: MediaFile) -> str:
    if media_file.filename:
        return Path(media_file.filename).name
    extension = (
        mimetypes.guess_extension(media_file.mime_type.split(";")[0].strip())
        if media_file.mime_type
        else None
    )
    return f"{media_file.media_id}{extension or '.bin'}"


def download_media_file(media_file_id: int) -> MediaFile:
    """Fetch and store one media file. Idempotent: a downloaded file is not
    fetched again. Errors are recorded (``download_status`` failed,
    ``download_error``) and re-raised so a task can retry."""
    media_file = MediaFile.objects.select_related("account").get(pk=media_file_id)
    if media_file.download_status == MediaFile.DownloadStatus.DOWNLOADED and media_file.file:
        return media_file
    MediaFile.objects.filter(pk=media_file.pk).update(download_attempts=F("download_attempts") + 1)
    media_file.download_attempts += 1
    try:
        client = client_for_account(media_file.account)
        with tempfile.TemporaryDirectory(prefix="wacloud-media-") as folder:
            path = Path(folder) / "download"
            client.download_media(media_file.media_id, str(path))
            digest = wacloud_media.sha256_file(str(path))
            with path.open("rb") as handle:
                media_file.file.save(_file_name(media_file), File(handle), save=False)
            media_file.size = path.stat().st_size
    except Exception as exc:
        media_file.download_status = MediaFile.DownloadStatus.FAILED
        media_file.download_error = f"{type(exc).__name__}: {exc}"
        media_file.save(update_fields=["download_status", "download_error"])
        raise
    media_file.sha256 = digest
    media_file.download_status = MediaFile.DownloadStatus.DOWNLOADED
    media_file.download_error = ""
    media_file.downloaded_at = timezone.now()
    media_file.save(
        update_fields=["file", "size", "sha256", "download_status", "download_error", "downloaded_at"]
    )
    return media_file


def upload_media(
    account: BusinessAccount, data: bytes, mime_type: str | None, filename: str = ""
) -> MediaFile:
    """Check ``data`` against Meta's media rules, upload it to Meta and keep a copy.
    Raises :class:`wacloud.MediaRejected` (before anything is stored or sent) or the
    client's typed errors. Audited."""
    from django.core.files.base import ContentFile
    from django.db import transaction

    from wacloud.media import check as check_media

    from . import audit
    from .clients import client_for

    info = check_media(data, mime_type or None)
    media_id = client_for(account).upload_media(data, info.mime, filename=filename or None)
    with transaction.atomic():
        media_file = MediaFile(
            account=account,
            media_id=media_id,
            mime_type=info.mime,
            size=len(data),
            sha256=info.sha256,
            filename=filename[:255],
            download_status=MediaFile.DownloadStatus.DOWNLOADED,  # ours already: nothing to fetch
        )
        media_file.file.save(filename or f"upload-{media_id}", ContentFile(data), save=False)
        media_file.save()
        audit.record("media.upload", organization=account.organization, target=media_file)
    return media_file
