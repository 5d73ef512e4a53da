"""ASGI entry point: HTTP through Django, ``/ws/`` through Channels (same process, same auth)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wavora.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from webhooks.consumers import EventsConsumer  # noqa: E402

from .ws import origin_validator, redact_api_keys_in_server_logs  # noqa: E402

redact_api_keys_in_server_logs()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": origin_validator(
            AuthMiddlewareStack(URLRouter([path("ws/", EventsConsumer.as_asgi())]))
        ),
    }
)
