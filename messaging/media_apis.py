"""``POST /api/v1/media`` (multipart upload → ``media_id``) and ``GET /api/v1/media/{media_id}``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from tenants.permissions import principal_of
from wavora.api.envelope import success
from wavora.api.views import ApiView
from wavora.ssrf import human_bytes

from .media import KINDS, MediaTooLarge, max_bytes_for, media_of_tenant, media_store
from .models import Media

# Room for the multipart boundaries and the ``kind`` field around the file itself.
_MULTIPART_OVERHEAD_BYTES = 1024 * 1024


@extend_schema_field(OpenApiTypes.BINARY)
class _UploadField(serializers.FileField):
    """A multipart file part (documented as binary, not as a URL)."""


class MediaUploadInput(serializers.Serializer):
    file = _UploadField(help_text="The file. Its type is detected from its bytes.")
    kind = serializers.ChoiceField(
        choices=Media.Kind.choices,
        required=False,
        help_text="What it will be sent as; checked against GOWA's types and limits for that kind. "
        "Omitted: inferred from the bytes (JPEG/PNG → image, MP4/MKV/AVI → video, audio → audio, "
        "anything else → file).",
    )


class MediaOutput(serializers.ModelSerializer):
    media_id = serializers.UUIDField(source="id", read_only=True)

    class Meta:
        model = Media
        fields = ["media_id", "kind", "content_type", "size", "filename", "sha256", "created_at"]
        read_only_fields = fields


class MediaUploadApi(ApiView):
    required_scopes = "messages:send"
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="media_upload",
        summary="Upload a media file",
        description="Stores a file to send later by `media_id`. The type comes from the bytes, not the "
        "part's Content-Type; too large → 413 PAYLOAD_TOO_LARGE, a type the kind does not allow → 415 "
        "UNSUPPORTED_MEDIA_TYPE.",
        request={"multipart/form-data": MediaUploadInput},
        responses={201: MediaOutput},
        tags=["media"],
    )
    def post(self, request: Request) -> Response:
        _refuse_oversized_body(request)
        principal = principal_of(request)
        assert principal.tenant is not None
        form = MediaUploadInput(data=request.data)
        form.is_valid(raise_exception=True)
        upload = form.validated_data["file"]
        media = media_store(
            tenant=principal.tenant,
            content=upload,
            filename=upload.name or "file",
            kind=form.validated_data.get("kind"),
        )
        return Response(success(MediaOutput(media).data, "Media stored"), status=status.HTTP_201_CREATED)


class MediaDetailApi(ApiView):
    required_scopes = "messages:read"

    @extend_schema(
        operation_id="media_retrieve",
        summary="A media file's metadata",
        responses={200: MediaOutput},
        tags=["media"],
    )
    def get(self, request: Request, media_id: Any) -> Response:
        principal = principal_of(request)
        assert principal.tenant is not None
        return Response(success(MediaOutput(media_of_tenant(principal.tenant.pk, media_id)).data))


def _refuse_oversized_body(request: Request) -> None:
    # Refused before Django reads (and spools to disk) a body larger than any kind may be.
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    largest = max(max_bytes_for(kind) for kind in KINDS)
    if declared > largest + _MULTIPART_OVERHEAD_BYTES:
        reason = f"the upload is {human_bytes(declared)}; no media may be larger than {human_bytes(largest)}."
        raise MediaTooLarge(f"file: {reason}", details={"file": [reason[:1].upper() + reason[1:]]})
