"""media (upload: multipart ``file``), media/<id> (download the stored copy; an inbound
file not downloaded yet is fetched from Meta first)."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.response import Response

from ...conf import get_setting
from ...models import MediaFile
from ...services.media import download_media_file, upload_media
from ..base import ApiView, documented, ok
from ..errors import ApiError
from ..serializers.resources import MediaFileSerializer
from .messaging import account_for


class MediaUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    mime_type = serializers.CharField(required=False, help_text="Default: detected from the bytes.")
    account = serializers.CharField(
        required=False, help_text="phone number id (default: the only active one)"
    )


class MediaListView(ApiView):
    actions = {"GET": "read", "POST": "reply"}
    throttle_scope = "media_upload"

    @documented(
        parameters=[OpenApiParameter("limit", int), OpenApiParameter("offset", int)],
        responses=MediaFileSerializer(many=True),
    )
    def get(self, request: Any) -> Response:
        rows = self.scoped(MediaFile.objects.select_related("account")).order_by("-created_at", "-pk")
        return self.paginate(rows, MediaFileSerializer)

    @documented(request={"multipart/form-data": MediaUploadSerializer}, responses={201: MediaFileSerializer})
    def post(self, request: Any) -> Response:
        body = MediaUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data["file"]
        limit = get_setting("API_MEDIA_MAX_BYTES")
        if upload.size > limit:
            raise ApiError(
                413,
                "FILE_TOO_LARGE",
                f"The file has {upload.size} bytes; the limit is {limit}.",
                {"file": f"at most {limit} bytes"},
            )
        account = account_for(self, body.validated_data.get("account"))
        declared = body.validated_data.get("mime_type") or getattr(upload, "content_type", None)
        if declared == "application/octet-stream":
            declared = None  # what clients send for a name they cannot type: detect from the bytes
        media_file = upload_media(account, upload.read(), declared, upload.name or "")
        return ok({"media": MediaFileSerializer(media_file).data}, status=201)


class MediaDetailView(ApiView):
    """The file itself (``?download=1`` or an ``Accept`` other than JSON), else its record."""

    @documented(parameters=[OpenApiParameter("download", bool)], responses=MediaFileSerializer)
    def get(self, request: Any, pk: str) -> Any:
        rows = MediaFile.objects.select_related("account")
        lookup = {"pk": int(pk)} if pk.isascii() and pk.isdigit() and len(pk) < 15 else {"media_id": pk}
        media_file = self.get_scoped_object(rows, **lookup)
        if request.query_params.get("download") not in ("1", "true", "yes"):
            return ok({"media": MediaFileSerializer(media_file).data})
        if not media_file.file:
            media_file = download_media_file(media_file.pk)
        if not media_file.file:
            raise ApiError(
                502, "MEDIA_UNAVAILABLE", media_file.download_error or "The file could not be fetched."
            )
        return FileResponse(
            media_file.file.open("rb"),
            content_type=media_file.mime_type or None,
            as_attachment=True,
            filename=media_file.filename or media_file.media_id,
        )
