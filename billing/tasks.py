"""Thin Celery tasks: the billing cycle run by beat. Each step is idempotent (status guards)."""

from __future__ import annotations

import logging

from celery import shared_task

from . import services

logger = logging.getLogger(__name__)


@shared_task(name="billing.tasks.run_billing_cycle")
def run_billing_cycle() -> dict[str, int]:
    issued = services.renewals_issue()
    expired = services.invoices_expire()
    past_due, downgraded = services.subscriptions_lapse()
    result = {"renewals": issued, "expired": expired, "past_due": past_due, "downgraded": downgraded}
    if any(result.values()):
        logger.info("Billing cycle: %s", result)
    return result
