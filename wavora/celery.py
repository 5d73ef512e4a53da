"""Celery app: one queue per kind of work so each can be scaled on its own."""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wavora.settings")

app = Celery("wavora")
app.config_from_object("django.conf:settings", namespace="CELERY")

QUEUES = ("sends", "webhooks", "campaigns", "billing", "default")
app.conf.task_queues = tuple(Queue(name) for name in QUEUES)
app.conf.task_default_queue = "default"
app.conf.task_routes = {
    "messaging.tasks.send_message": {"queue": "sends"},
    "webhooks.tasks.*": {"queue": "webhooks"},
    "campaigns.tasks.*": {"queue": "campaigns"},
    "billing.tasks.*": {"queue": "billing"},
}


@app.on_after_finalize.connect
def _schedule_periodic_tasks(sender: Celery, **_: object) -> None:
    from django.conf import settings

    sender.add_periodic_task(
        settings.DEVICE_POLL_INTERVAL_SECONDS,
        sender.signature("devices.tasks.poll_gowa_nodes"),
        name="poll GOWA nodes for device state",
    )
    sender.add_periodic_task(
        settings.SWEEPER_INTERVAL_SECONDS,
        sender.signature("messaging.tasks.sweep_stuck_messages"),
        name="re-queue messages stuck in pending/sending",
    )
    sender.add_periodic_task(
        3600.0,
        sender.signature("messaging.tasks.purge_expired_idempotency_keys"),
        name="forget idempotency keys older than 24 h",
    )
    sender.add_periodic_task(
        settings.WEBHOOK_SWEEP_INTERVAL_SECONDS,
        sender.signature("webhooks.tasks.sweep_webhooks"),
        name="re-queue overdue webhook deliveries and lost fan-outs",
    )
    sender.add_periodic_task(
        settings.BILLING_CYCLE_INTERVAL_SECONDS,
        sender.signature("billing.tasks.run_billing_cycle"),
        name="billing: renewal invoices, expiry of unpaid invoices, past-due and downgrade",
    )
    sender.add_periodic_task(
        settings.CAMPAIGN_SCHEDULER_INTERVAL_SECONDS,
        sender.signature("campaigns.tasks.wake_due_campaigns"),
        name="start scheduled campaigns and resume stalled ones",
    )


app.autodiscover_tasks()
