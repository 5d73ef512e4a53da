"""Thin tasks: ids in, the services decide (STYLE §4)."""

from __future__ import annotations

import logging
import uuid

from celery import shared_task

from . import services

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True, acks_late=True)
def run_campaign(campaign_id: str, seq: int) -> None:
    """One scheduler tick; it enqueues the next one itself (``seq`` drops duplicates)."""
    services.campaign_tick(campaign_id=uuid.UUID(campaign_id), seq=seq)


@shared_task(ignore_result=True)
def wake_due_campaigns() -> None:
    woken = services.campaigns_wake_due()
    if woken:
        logger.info("Woke %s due or stalled campaigns", woken)
