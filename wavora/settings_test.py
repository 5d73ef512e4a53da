"""Settings for ``make test``: the real local PostgreSQL and Redis (see settings.py, mode ``test``)."""

import os

os.environ["WAVORA_ENV"] = "test"
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/9")

from .settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast users in tests
