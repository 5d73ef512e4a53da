from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "webhooks"

    def ready(self) -> None:
        # Registers the after-commit hook that hands every emitted event to webhook delivery.
        from . import tasks  # noqa: F401
