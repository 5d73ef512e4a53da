from __future__ import annotations

from django.db import models


class Plan(models.Model):
    class Period(models.TextChoices):
        MONTHLY = "monthly", "Monthly"
        YEARLY = "yearly", "Yearly"

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    price = models.PositiveBigIntegerField(default=0, help_text="IDR per period, integer rupiah")
    period = models.CharField(max_length=10, choices=Period.choices, default=Period.MONTHLY)
    message_quota = models.PositiveIntegerField(default=0, help_text="Messages per period; 0 = unlimited")
    rate_limit_per_minute = models.PositiveIntegerField(default=60)
    send_interval_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="Default pause between a device's sends; empty = platform default"
    )
    device_limit = models.PositiveIntegerField(default=1)
    features = models.JSONField(default=dict, blank=True)
    branding_footer = models.CharField(max_length=200, blank=True, default="")
    is_public = models.BooleanField(default=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "m_plan"
        ordering = ["price", "code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def is_free(self) -> bool:
        return self.price == 0


class Subscription(models.Model):
    """The plan active for one device (seed 000)."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAST_DUE = "past_due", "Past due"
        EXPIRED = "expired", "Expired"
        CANCELLED = "cancelled", "Cancelled"

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="subscriptions")
    device = models.OneToOneField("devices.Device", on_delete=models.CASCADE, related_name="subscription")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    current_period_start = models.DateTimeField()
    current_period_end = models.DateTimeField(null=True, blank=True, help_text="Empty for the free plan")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "t_subscription"

    def __str__(self) -> str:
        return f"{self.device_id}: {self.plan.code} ({self.status})"
