from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The server-rendered web app for business users (SPEC §1): sits above every other app."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "dashboard"
