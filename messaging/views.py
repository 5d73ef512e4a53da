"""GOWA → Wavora callback: verify over the raw body, store raw, answer 2xx at once (STYLE §5)."""

from __future__ import annotations

import json
import logging

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from devices.gowa import webhook_dedupe_key, webhook_signature_valid
from devices.models import GowaNode
from wavora.api.envelope import error, meta

from .services import gowa_event_store

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def gowa_callback(request: HttpRequest, node_id: int) -> JsonResponse:
    node = GowaNode.objects.filter(pk=node_id).first()
    if node is None:
        return JsonResponse(error("NOT_FOUND", "Unknown GOWA node."), status=404)
    raw = request.body
    if not webhook_signature_valid(node.webhook_secret, raw, request.headers.get("X-Hub-Signature-256", "")):
        logger.warning("Rejected GOWA callback for node %s: bad signature", node.pk)
        return JsonResponse(error("UNAUTHORIZED", "Invalid X-Hub-Signature-256."), status=401)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return JsonResponse(
            error("VALIDATION_ERROR", "Body is not JSON.", {"body": ["Invalid JSON."]}), status=400
        )
    if not isinstance(body, dict) or not isinstance(body.get("event"), str):
        return JsonResponse(
            error("VALIDATION_ERROR", "Body has no event.", {"event": ["Required."]}), status=400
        )
    event, created = gowa_event_store(node=node, payload=body, dedupe_key=webhook_dedupe_key(body))
    return JsonResponse(
        {
            "success": True,
            "data": {"id": event.pk, "duplicate": not created},
            "message": "stored",
            "meta": meta(),
        }
    )
