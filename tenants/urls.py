from __future__ import annotations

from django.urls import URLPattern, URLResolver

# Partner provisioning API (seed 002), mounted at /internal/ by wavora/urls.py.
internal: list[URLPattern | URLResolver] = []
