from django.db import migrations

from billing.plans import FREE_PLAN_CODE, FREE_PLAN_DEFAULTS


def create_free_plan(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    Plan.objects.get_or_create(code=FREE_PLAN_CODE, defaults=FREE_PLAN_DEFAULTS)


def remove_free_plan(apps, schema_editor):
    apps.get_model("billing", "Plan").objects.filter(code=FREE_PLAN_CODE).delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(create_free_plan, remove_free_plan)]
