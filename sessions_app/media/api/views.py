"""Public API for media files (`/api/v1/media/{id}`)."""

from __future__ import annotations

from typing import Any

from django.core.files.storage import default_storage
from django.http import FileResponse
from drf_spectacular.utils import extend_schema

from gateway.api import OwnerApiView
from sessions_app.media.models import MediaFile
from sessions_app.media.selectors import media_get

TAG_MESSAGES = ["messages"]


def media_file_response(media: MediaFile) -> FileResponse:
    """Stream a MediaFile from storage with its mimetype and exact (RFC 6266) file name."""
    handle = default_storage.open(media.storage_name, "rb")
    return FileResponse(
        handle,
        content_type=media.mimetype,
        as_attachment=True,
        filename=media.filename or media.id,
    )


class MediaDownloadApi(OwnerApiView):
    @extend_schema(
        tags=TAG_MESSAGES,
        responses={(200, "application/octet-stream"): bytes},
        summary="Download a media file (sent or received) of yours",
    )
    def get(self, request: Any, media_id: str) -> Any:
        return media_file_response(media_get(owner=self.owner, media_id=media_id))
