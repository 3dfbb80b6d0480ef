"""Public API for media files (`/api/v1/media/{id}`)."""

from __future__ import annotations

from typing import Any

from django.core.files.storage import default_storage
from django.http import FileResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions

from gateway.api import OwnerApiView
from sessions_app.media.links import TOKEN_PARAM, media_link_opens
from sessions_app.media.models import MediaFile
from sessions_app.media.selectors import media_get, media_get_any

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


class HasMediaLink(permissions.BasePermission):
    """Allow a request carrying a valid link token for the media id in its path."""

    def has_permission(self, request: Any, view: Any) -> bool:
        token = request.query_params.get(TOKEN_PARAM)
        media_id = view.kwargs.get("media_id", "")
        return bool(token) and media_link_opens(media_id=media_id, token=token)


class MediaDownloadApi(OwnerApiView):
    permission_classes = [HasMediaLink | permissions.IsAuthenticated]

    @extend_schema(
        tags=TAG_MESSAGES,
        parameters=[
            OpenApiParameter(
                TOKEN_PARAM,
                str,
                required=False,
                description="The token of a link a webhook event carries (`media.url`): it "
                "opens this one file without an API key until `media.urlExpiresAt`.",
            )
        ],
        responses={(200, "application/octet-stream"): bytes},
        # A link's token opens the file without credentials (gateway.schema keeps the `{}`).
        auth=[{"ApiKey": []}, {}],
        summary="Download a media file (sent or received) of yours",
    )
    def get(self, request: Any, media_id: str) -> Any:
        if HasMediaLink().has_permission(request, self):
            return media_file_response(media_get_any(media_id=media_id))
        media = media_get(owner=self.owner, media_id=media_id, api_key=self.api_key)
        return media_file_response(media)
