"""Signals tenants sends to the apps above it (which it must not import)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the provisioning transaction: kwargs ``tenant``, ``plan_code`` (None = unchanged,
# "" = none) and ``actor``. Billing applies the partner's plan; a receiver's error rolls it all back.
tenant_provisioned = Signal()
