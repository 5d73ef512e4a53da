from __future__ import annotations

from typing import Any

from django.views.generic import TemplateView

from devices.selectors import devices_of_tenant

from .tenancy import TenantViewMixin


class OverviewView(TenantViewMixin, TemplateView):
    template_name = "dashboard/overview.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["devices"] = devices_of_tenant(tenant_id=self.tenant.id)
        return context
