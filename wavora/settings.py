"""Wavora settings: one file, driven by the environment.

Modes (``WAVORA_ENV``):
- ``dev`` (default): embedded — SQLite in ``var/``, the embedded Redis that ``make run`` starts on
  ``EMBEDDED_REDIS_PORT``, filesystem storage, the built-in GOWA simulator. Any ``manage.py``
  command run beside ``make run`` with no extra environment sees the same database and Redis.
- ``production``: everything from the environment; missing secrets fail fast.
- ``test``: like production but with safe defaults for the local PostgreSQL/Redis (``make test``).
"""

from __future__ import annotations

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

WAVORA_ENV = env.str("WAVORA_ENV", default="dev")
if WAVORA_ENV not in {"dev", "production", "test"}:
    raise environ.ImproperlyConfigured(f"WAVORA_ENV must be dev, production or test, not {WAVORA_ENV!r}")
IS_PRODUCTION = WAVORA_ENV == "production"
IS_DEV = WAVORA_ENV == "dev"
if not IS_PRODUCTION:
    (VAR_DIR / "staticfiles").mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=IS_DEV)
if IS_PRODUCTION:
    SECRET_KEY = env.str("SECRET_KEY")
else:
    SECRET_KEY = env.str("SECRET_KEY", default="dev-insecure-secret-key-change-me-0123456789abcdef")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if IS_PRODUCTION else ["*"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
WAVORA_VERSION = "0.1.0"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "tenants",
    "billing",
    "devices",
    "messaging",
    "campaigns",
    "webhooks",
    "dashboard",
]

MIDDLEWARE = [
    "wavora.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "wavora.urls"
WSGI_APPLICATION = "wavora.wsgi.application"
ASGI_APPLICATION = "wavora.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "dashboard.navigation.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
if IS_PRODUCTION:
    DATABASES = {"default": env.db("DATABASE_URL")}
elif WAVORA_ENV == "test":
    DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/wavora")}
else:
    DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'wavora.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one file: WAL plus an immediate write lock and a generous
    # timeout keep concurrent writers from failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
elif env.bool("DB_POOL", default=True):
    # Under ASGI every request may run in a new thread, so per-thread persistent connections leak;
    # a psycopg pool per process bounds them (Django 5.1+; needs CONN_MAX_AGE = 0).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DB_POOL_MIN_SIZE", default=1),
        "max_size": env.int("DB_POOL_MAX_SIZE", default=10),
        "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache, Celery, Channels ---------------------------------------------------------
EMBEDDED_REDIS_PORT = env.int("EMBEDDED_REDIS_PORT", default=6390)
if IS_PRODUCTION:
    REDIS_URL = env.str("REDIS_URL")
elif WAVORA_ENV == "test":
    REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
else:
    REDIS_URL = env.str("REDIS_URL", default=f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="wv"),
    }
}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery's Django fixup closes DB connections around every task (with prefork: the whole pool);
# reusing them for this many tasks keeps a send from paying for a new PostgreSQL backend.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # redis-py 8 reads with a 5 s socket_timeout by default, which aborts channels_redis's blocking
        # receive (BZPOPMIN, 5 s) and closed every idle WebSocket; 30 s still spots a dead link.
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
            "prefix": env.str("CHANNELS_PREFIX", default="wv-asgi"),
        },
    }
}

# --- Auth, i18n, static, storage ------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/dashboard/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
LOCALE_PATHS = [BASE_DIR / "locale"]

LANGUAGE_CODE = "id"
LANGUAGES = [("id", "Bahasa Indonesia"), ("en", "English")]
TIME_ZONE = "Asia/Jakarta"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))

STORAGE_BACKEND = env.str("STORAGE_BACKEND", default="filesystem")
if STORAGE_BACKEND == "s3":
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME"),
            "region_name": env.str("AWS_S3_REGION_NAME", default=None),
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default=None),
            "access_key": env.str("AWS_ACCESS_KEY_ID", default=None),
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default=None),
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
elif STORAGE_BACKEND == "filesystem":
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
else:
    raise environ.ImproperlyConfigured("STORAGE_BACKEND must be filesystem or s3")
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if IS_PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

if IS_PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenants.authentication.ApiKeyAuthentication",
        "tenants.authentication.TenantSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["tenants.permissions.IsTenantMember"],
    "DEFAULT_RENDERER_CLASSES": ["wavora.api.renderers.EnvelopeJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "wavora.api.pagination.EnvelopePagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "wavora.api.exceptions.envelope_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "wavora.api.schema.EnvelopeAutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Wavora API",
    "DESCRIPTION": "Multi-tenant WhatsApp gateway. Every response uses the Wavora envelope.",
    "VERSION": WAVORA_VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "DEFAULT_GENERATOR_CLASS": "wavora.api.schema.EnglishSchemaGenerator",  # choice labels stay English
    "ENUM_NAME_OVERRIDES": {
        "DeviceStatusEnum": "devices.models.Device.Status",
        "MessageStatusEnum": "messaging.models.Message.Status",
        "MediaKindEnum": "messaging.models.Media.Kind",
        "ContactSourceEnum": "messaging.models.Contact.Source",
        "AutoReplyMatchEnum": "messaging.models.AutoReplyRule.Match",
    },
}

# --- Wavora ---------------------------------------------------------------------------------
DEFAULT_COUNTRY_CODE = env.str("DEFAULT_COUNTRY_CODE", default="62")
if not DEFAULT_COUNTRY_CODE.isdigit():
    raise environ.ImproperlyConfigured("DEFAULT_COUNTRY_CODE must be digits, e.g. 62")
API_RATE_LIMIT_PER_MINUTE = env.int("API_RATE_LIMIT_PER_MINUTE", default=600)
TENANT_DEFAULT_MAX_DEVICES = env.int("TENANT_DEFAULT_MAX_DEVICES", default=5)

# Where GOWA nodes reach Wavora's callback (``/webhooks/gowa/<node>/``).
GOWA_CALLBACK_BASE_URL = env.str("GOWA_CALLBACK_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
GOWA_TIMEOUT_SECONDS = env.float("GOWA_TIMEOUT_SECONDS", default=60.0)
GOWA_SIM_PORT = env.int("GOWA_SIM_PORT", default=3000)

DEVICE_POLL_INTERVAL_SECONDS = env.float("DEVICE_POLL_INTERVAL_SECONDS", default=15.0)
PAIRING_POLL_INTERVAL_SECONDS = env.float("PAIRING_POLL_INTERVAL_SECONDS", default=2.0)
PAIRING_TIMEOUT_SECONDS = env.int("PAIRING_TIMEOUT_SECONDS", default=180)

SEND_MAX_ATTEMPTS = env.int("SEND_MAX_ATTEMPTS", default=5)
SEND_RETRY_BASE_SECONDS = env.float("SEND_RETRY_BASE_SECONDS", default=5.0)
SEND_DEFAULT_INTERVAL_MS = env.int("SEND_DEFAULT_INTERVAL_MS", default=1000)
REACHOUT_TIMELOCK_PAUSE_SECONDS = env.int("REACHOUT_TIMELOCK_PAUSE_SECONDS", default=600)
SWEEPER_INTERVAL_SECONDS = env.float("SWEEPER_INTERVAL_SECONDS", default=60.0)
SWEEPER_STUCK_PENDING_SECONDS = env.int("SWEEPER_STUCK_PENDING_SECONDS", default=120)
SWEEPER_STUCK_SENDING_SECONDS = env.int("SWEEPER_STUCK_SENDING_SECONDS", default=300)
IDEMPOTENCY_TTL_HOURS = 24
# An async message whose device is offline waits this long for it to come back, then fails.
MESSAGE_MAX_WAIT_SECONDS = env.int("MESSAGE_MAX_WAIT_SECONDS", default=24 * 3600)

# Media: size limits per kind follow GOWA's (NOTES §8); URL fetches are SSRF-guarded and capped.
MEDIA_MAX_IMAGE_BYTES = env.int("MEDIA_MAX_IMAGE_BYTES", default=20 * 1024 * 1024)
MEDIA_MAX_FILE_BYTES = env.int("MEDIA_MAX_FILE_BYTES", default=50 * 1024 * 1024)
MEDIA_MAX_VIDEO_BYTES = env.int("MEDIA_MAX_VIDEO_BYTES", default=100 * 1024 * 1024)
MEDIA_MAX_AUDIO_BYTES = env.int("MEDIA_MAX_AUDIO_BYTES", default=50 * 1024 * 1024)
MEDIA_MAX_STICKER_BYTES = env.int("MEDIA_MAX_STICKER_BYTES", default=5 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
URL_FETCH_TIMEOUT_SECONDS = env.float("URL_FETCH_TIMEOUT_SECONDS", default=30.0)
URL_FETCH_MAX_REDIRECTS = env.int("URL_FETCH_MAX_REDIRECTS", default=3)
# Only for local development: lets tenant URLs point at private/loopback addresses.
ALLOW_PRIVATE_URLS = env.bool("ALLOW_PRIVATE_URLS", default=False)

PHONE_CHECK_CACHE_TTL_SECONDS = env.int("PHONE_CHECK_CACHE_TTL_SECONDS", default=24 * 3600)

# Auto-reply: at most one reply per rule to the same sender on a device within this window
# (a guard against reply loops with other bots).
AUTO_REPLY_RATE_LIMIT_SECONDS = env.int("AUTO_REPLY_RATE_LIMIT_SECONDS", default=60)
if AUTO_REPLY_RATE_LIMIT_SECONDS < 1:
    raise environ.ImproperlyConfigured("AUTO_REPLY_RATE_LIMIT_SECONDS must be at least 1")
# GET …/contacts syncs from GOWA first unless ?sync=false; a sync this recent makes it skip.
CONTACTS_AUTO_SYNC_INTERVAL_SECONDS = env.int("CONTACTS_AUTO_SYNC_INTERVAL_SECONDS", default=60)

# Tenant webhooks: each POST is capped at WEBHOOK_TIMEOUT_SECONDS; a failed delivery is retried with
# exponential back-off (10 s, 30 s, 1 min … 4 h) for WEBHOOK_RETRY_WINDOW_HOURS, then marked failed;
# an endpoint failing every delivery for WEBHOOK_DISABLE_AFTER_DAYS is disabled and its owners told.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
WEBHOOK_RETRY_WINDOW_HOURS = env.float("WEBHOOK_RETRY_WINDOW_HOURS", default=24.0)
WEBHOOK_DISABLE_AFTER_DAYS = env.float("WEBHOOK_DISABLE_AFTER_DAYS", default=3.0)
# After a secret rotation the previous secret keeps signing (X-Webhook-Signature-Previous) this long.
WEBHOOK_SECRET_GRACE_HOURS = env.float("WEBHOOK_SECRET_GRACE_HOURS", default=24.0)
# The sweeper (Celery beat) re-queues deliveries overdue by more than WEBHOOK_SWEEP_GRACE_SECONDS
# and fans out events up to WEBHOOK_FANOUT_LOOKBACK_HOURS old whose fan-out task was lost.
WEBHOOK_SWEEP_INTERVAL_SECONDS = env.float("WEBHOOK_SWEEP_INTERVAL_SECONDS", default=30.0)
WEBHOOK_SWEEP_GRACE_SECONDS = env.int("WEBHOOK_SWEEP_GRACE_SECONDS", default=30)
WEBHOOK_FANOUT_LOOKBACK_HOURS = env.int("WEBHOOK_FANOUT_LOOKBACK_HOURS", default=48)
# Retries further away than this are not parked in Redis as countdown tasks (which Redis hands out
# again after CELERY_VISIBILITY_TIMEOUT); the sweeper queues them when they are due.
WEBHOOK_MAX_COUNTDOWN_SECONDS = env.int("WEBHOOK_MAX_COUNTDOWN_SECONDS", default=600)
for _name in (
    "WEBHOOK_TIMEOUT_SECONDS",
    "WEBHOOK_RETRY_WINDOW_HOURS",
    "WEBHOOK_DISABLE_AFTER_DAYS",
    "WEBHOOK_SWEEP_INTERVAL_SECONDS",
    "WEBHOOK_FANOUT_LOOKBACK_HOURS",
):
    if globals()[_name] <= 0:
        raise environ.ImproperlyConfigured(f"{_name} must be positive")
if WEBHOOK_SECRET_GRACE_HOURS < 0 or WEBHOOK_SWEEP_GRACE_SECONDS < 0:
    raise environ.ImproperlyConfigured(
        "WEBHOOK_SECRET_GRACE_HOURS and WEBHOOK_SWEEP_GRACE_SECONDS must be >= 0"
    )
if not 0 <= WEBHOOK_MAX_COUNTDOWN_SECONDS < CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]:
    raise environ.ImproperlyConfigured(
        "WEBHOOK_MAX_COUNTDOWN_SECONDS must be below CELERY_VISIBILITY_TIMEOUT"
    )
# The OpenAPI schema names the delivery status enum apart from the device and message ones.
_enum_names = SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]
assert isinstance(_enum_names, dict)
_enum_names["WebhookDeliveryStatusEnum"] = "webhooks.models.WebhookDelivery.Status"
_enum_names["CampaignStatusEnum"] = "campaigns.models.Campaign.Status"
_enum_names["CampaignRecipientStatusEnum"] = "campaigns.selectors.RECIPIENT_STATUS_CHOICES"

# Campaigns: the CSV upload cap (413 beyond), recipients per campaign, the default delay between
# messages, how many recipients one scheduler tick hands to the send queue at most, how often beat
# looks for due/stalled campaigns, and the longest wait parked in Redis as a countdown (longer waits
# are picked up by the beat scheduler).
CAMPAIGN_CSV_MAX_BYTES = env.int("CAMPAIGN_CSV_MAX_BYTES", default=20 * 1024 * 1024)
CAMPAIGN_MAX_RECIPIENTS = env.int("CAMPAIGN_MAX_RECIPIENTS", default=200_000)
CAMPAIGN_DEFAULT_DELAY_MS = env.int("CAMPAIGN_DEFAULT_DELAY_MS", default=3000)
CAMPAIGN_SLICE_MAX = env.int("CAMPAIGN_SLICE_MAX", default=100)
CAMPAIGN_SCHEDULER_INTERVAL_SECONDS = env.float("CAMPAIGN_SCHEDULER_INTERVAL_SECONDS", default=15.0)
CAMPAIGN_MAX_COUNTDOWN_SECONDS = env.int("CAMPAIGN_MAX_COUNTDOWN_SECONDS", default=300)
for _name in (
    "CAMPAIGN_CSV_MAX_BYTES",
    "CAMPAIGN_MAX_RECIPIENTS",
    "CAMPAIGN_SLICE_MAX",
    "CAMPAIGN_SCHEDULER_INTERVAL_SECONDS",
):
    if globals()[_name] <= 0:
        raise environ.ImproperlyConfigured(f"{_name} must be positive")
if CAMPAIGN_DEFAULT_DELAY_MS < 0:
    raise environ.ImproperlyConfigured("CAMPAIGN_DEFAULT_DELAY_MS must be >= 0")
if not 0 < CAMPAIGN_MAX_COUNTDOWN_SECONDS < CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]:
    raise environ.ImproperlyConfigured(
        "CAMPAIGN_MAX_COUNTDOWN_SECONDS must be positive and below CELERY_VISIBILITY_TIMEOUT"
    )

# Billing (issue 5). Money is integer rupiah. PUBLIC_BASE_URL is how browsers and DOKU reach Wavora
# (the DOKU notification URL, the dev sandbox checkout page, links in emails).
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default=GOWA_CALLBACK_BASE_URL).rstrip("/")
DOKU_BASE_URL = env.str("DOKU_BASE_URL", default="https://api-sandbox.doku.com").rstrip("/")
DOKU_CLIENT_ID = env.str("DOKU_CLIENT_ID", default="")
DOKU_SECRET_KEY = env.str("DOKU_SECRET_KEY", default="")
if bool(DOKU_CLIENT_ID) != bool(DOKU_SECRET_KEY):
    raise environ.ImproperlyConfigured("Set both DOKU_CLIENT_ID and DOKU_SECRET_KEY, or neither")
# Without DOKU credentials outside production, pay/doku opens Wavora's own sandbox checkout page,
# whose buttons send a notification signed with these dev-only values (never used with real DOKU).
DOKU_DEV_SANDBOX = not DOKU_CLIENT_ID and not IS_PRODUCTION
if DOKU_DEV_SANDBOX:
    DOKU_CLIENT_ID, DOKU_SECRET_KEY = "WAVORA-DEV-SANDBOX", "wavora-dev-sandbox-secret"
DOKU_PAYMENT_DUE_MINUTES = env.int("DOKU_PAYMENT_DUE_MINUTES", default=60)
DOKU_TIMEOUT_SECONDS = env.float("DOKU_TIMEOUT_SECONDS", default=30.0)
# The platform's static QRIS (from the acquirer); invoices get a dynamic copy with their amount.
# The default is a syntactically valid sample for development only.
QRIS_STATIC_PAYLOAD = env.str(
    "QRIS_STATIC_PAYLOAD",
    default="00020101021126440018ID.CO.QRIS.WWW0215ID10200000000010303UMI51440014ID.CO.QRIS.WWW0215"
    "ID20232345678910303UMI5204737253033605802ID5910WAVORA DEV6007JAKARTA61051011062070703A016304B273",
)
try:
    from billing.qris import QrisError as _QrisError
    from billing.qris import parse as _parse_qris

    _parse_qris(QRIS_STATIC_PAYLOAD)
except _QrisError as _exc:
    raise environ.ImproperlyConfigured(f"QRIS_STATIC_PAYLOAD is not a valid QRIS payload: {_exc}") from None
# Bank accounts for manual transfer: "BANK:NUMBER:HOLDER" entries separated by ";".
_BANK_FIELDS = ("bank", "account_number", "account_name")
BILLING_BANK_ACCOUNTS = [
    dict(zip(_BANK_FIELDS, [p.strip() for p in entry.split(":", 2)], strict=False))
    for entry in env.str(
        "BILLING_BANK_ACCOUNTS", default="BCA:1234567890:PT Wavora Dev;Mandiri:0987654321:PT Wavora Dev"
    ).split(";")
    if entry.strip()
]
if any(len(account) != 3 or not all(account.values()) for account in BILLING_BANK_ACCOUNTS):
    raise environ.ImproperlyConfigured("BILLING_BANK_ACCOUNTS entries must look like BANK:NUMBER:HOLDER")
BILLING_INVOICE_DUE_DAYS = env.int("BILLING_INVOICE_DUE_DAYS", default=7)
BILLING_TAX_RATE_PERCENT = env.str("BILLING_TAX_RATE_PERCENT", default="11")  # PPN
BILLING_GRACE_DAYS = env.int("BILLING_GRACE_DAYS", default=3)
BILLING_RENEWAL_LEAD_DAYS = env.int("BILLING_RENEWAL_LEAD_DAYS", default=7)
BILLING_PROOF_MAX_BYTES = env.int("BILLING_PROOF_MAX_BYTES", default=5 * 1024 * 1024)
BILLING_CYCLE_INTERVAL_SECONDS = env.float("BILLING_CYCLE_INTERVAL_SECONDS", default=300.0)
try:
    from decimal import Decimal as _Decimal

    if not 0 <= _Decimal(BILLING_TAX_RATE_PERCENT) <= 100:
        raise ValueError
except (ArithmeticError, ValueError):
    raise environ.ImproperlyConfigured("BILLING_TAX_RATE_PERCENT must be a number from 0 to 100") from None
for _name in ("BILLING_INVOICE_DUE_DAYS", "BILLING_RENEWAL_LEAD_DAYS", "DOKU_PAYMENT_DUE_MINUTES",
              "BILLING_PROOF_MAX_BYTES", "BILLING_CYCLE_INTERVAL_SECONDS"):
    if globals()[_name] <= 0:
        raise environ.ImproperlyConfigured(f"{_name} must be positive")
if BILLING_GRACE_DAYS < 0:
    raise environ.ImproperlyConfigured("BILLING_GRACE_DAYS must be >= 0")
_enum_names = SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]
assert isinstance(_enum_names, dict)
_enum_names.update(
    {
        "InvoiceStatusEnum": "billing.models.Invoice.Status",
        "InvoiceKindEnum": "billing.models.Invoice.Kind",
        "PaymentStatusEnum": "billing.models.Payment.Status",
        "PaymentMethodEnum": "billing.models.BillingSettings.Method",
        "SubscriptionStatusEnum": "billing.models.Subscription.Status",
        "PlanPeriodEnum": "billing.models.Plan.Period",
    }
)
# Partner provisioning API (seed 002): "service:key" (scoped to that source) or a bare global key,
# comma-separated. Empty = the /internal/ API refuses every request.
INTERNAL_API_KEYS = env.list("INTERNAL_API_KEYS", default=[])

# Email (webhook-disabled and re-scan notices), e.g. smtp+tls://user:password@smtp.example.com:587.
# Tests use Django's in-memory outbox whatever this says.
vars().update(
    env.email_url("EMAIL_URL", default="smtp://localhost:25" if IS_PRODUCTION else "consolemail://")
)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Wavora <no-reply@wavora.local>")

# Dashboard log-in throttling: after LOGIN_MAX_FAILURES failed attempts for one username from one
# IP address, that pair is refused for LOGIN_LOCKOUT_SECONDS (counted in Redis).
LOGIN_MAX_FAILURES = env.int("LOGIN_MAX_FAILURES", default=5)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=900)
if LOGIN_MAX_FAILURES < 1 or LOGIN_LOCKOUT_SECONDS < 1:
    raise environ.ImproperlyConfigured("LOGIN_MAX_FAILURES and LOGIN_LOCKOUT_SECONDS must be at least 1")

# --- Logging --------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "wavora.middleware.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["request_id"], "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "celery": {"level": "INFO"},
    },
}
