from django.apps import AppConfig


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing"

    def ready(self) -> None:
        from tenants.signals import tenant_provisioned

        from .services import on_tenant_provisioned

        tenant_provisioned.connect(on_tenant_provisioned, dispatch_uid="billing.provisioned_plan")
