"""Thin tasks on the ``webhooks`` queue: ids in, rows reloaded, the services' guards decide
(STYLE §4). The after-commit hook of ``event_emit`` hands every event to ``fan_out_event``."""

from __future__ import annotations

import logging
import uuid

from celery import shared_task

from . import services
from .events import on_event_committed

logger = logging.getLogger(__name__)


@on_event_committed
def queue_fan_out(event_id: str) -> None:
    try:
        fan_out_event.delay(event_id)
    except Exception:
        # Redis is unreachable: the event row is committed, so the sweeper fans it out later.
        logger.warning("Could not queue the webhook fan-out of %s; the sweeper will", event_id, exc_info=True)


@shared_task(ignore_result=True, acks_late=True)
def fan_out_event(event_id: str) -> None:
    services.event_fan_out(event_id=event_id)


@shared_task(ignore_result=True, acks_late=True)
def deliver(delivery_id: str) -> None:
    services.delivery_attempt(delivery_id=uuid.UUID(delivery_id))


@shared_task(ignore_result=True)
def sweep_webhooks() -> None:
    services.webhooks_sweep()
