"""Reads for campaigns. Statistics come from the messages themselves (receipts move them), joined to
the recipients, so they are never out of step with the message log."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Count, Q, QuerySet

from tenants.principal import Principal
from wavora.api.errors import NotFound

from .models import Campaign, CampaignRecipient

STAT_KEYS = ("pending", "sent", "delivered", "read", "failed", "total")
# A recipient's status as the API shows it: its message's, or its own before/without a message.
RECIPIENT_FILTERS: dict[str, Q] = {
    "pending": Q(status=CampaignRecipient.Status.PENDING)
    | Q(status=CampaignRecipient.Status.QUEUED, message__status__in=("pending", "sending")),
    "sent": Q(status=CampaignRecipient.Status.QUEUED, message__status="sent"),
    "delivered": Q(status=CampaignRecipient.Status.QUEUED, message__status="delivered"),
    "read": Q(status=CampaignRecipient.Status.QUEUED, message__status__in=("read", "played")),
    "failed": Q(status=CampaignRecipient.Status.FAILED)
    | Q(status=CampaignRecipient.Status.QUEUED, message__status__in=("failed", "cancelled"))
    | Q(status=CampaignRecipient.Status.QUEUED, message__isnull=True),
}

RECIPIENT_STATUS_CHOICES = [(key, key) for key in RECIPIENT_FILTERS]


def campaign_statistics(*, campaign_id: uuid.UUID) -> dict[str, int]:
    counts = CampaignRecipient.objects.filter(campaign_id=campaign_id).aggregate(
        total=Count("id"), **{key: Count("id", filter=q) for key, q in RECIPIENT_FILTERS.items()}
    )
    return {key: int(counts[key] or 0) for key in STAT_KEYS}


def campaigns_of(principal: Principal) -> QuerySet[Campaign]:
    """A key restricted to some devices sees the campaigns of those devices only."""
    assert principal.tenant is not None
    campaigns = Campaign.objects.filter(tenant_id=principal.tenant.pk).select_related("device")
    if principal.device_ids:
        campaigns = campaigns.filter(device_id__in=principal.device_ids)
    return campaigns


def campaign_of(principal: Principal, campaign_id: Any) -> Campaign:
    """Another tenant's campaign is indistinguishable from a missing one (404, never 403)."""
    try:
        pk = uuid.UUID(str(campaign_id))
    except ValueError:
        raise NotFound(f"Campaign {str(campaign_id)[:64]} not found.")
    campaign = campaigns_of(principal).filter(pk=pk).first()
    if campaign is None:
        raise NotFound(f"Campaign {pk} not found.")
    return campaign


def recipient_status(recipient: CampaignRecipient) -> str:
    if recipient.status == CampaignRecipient.Status.PENDING:
        return "pending"
    if recipient.status == CampaignRecipient.Status.FAILED or recipient.message is None:
        return "failed"
    status = recipient.message.status
    return {"sending": "pending", "played": "read", "cancelled": "failed"}.get(status, status)


def recipients_of(
    *, campaign: Campaign, status: str | None = None, phone: str = ""
) -> QuerySet[CampaignRecipient]:
    rows = campaign.recipients.select_related("message").order_by("id")
    if status:
        rows = rows.filter(RECIPIENT_FILTERS[status])
    if phone:
        rows = rows.filter(phone__contains=phone)
    return rows
