from django.db import migrations


def create_free_plan(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    Plan.objects.get_or_create(
        code="free",
        defaults={
            "name": "Free",
            "price": 0,
            "period": "monthly",
            "message_quota": 1000,
            "rate_limit_per_minute": 30,
            "device_limit": 1,
            "features": {"campaigns": False, "auto_reply": True, "webhooks": True},
            "branding_footer": "\n\n_Sent via Wavora_",
            "is_public": True,
            "is_active": True,
        },
    )


def remove_free_plan(apps, schema_editor):
    apps.get_model("billing", "Plan").objects.filter(code="free").delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(create_free_plan, remove_free_plan)]
