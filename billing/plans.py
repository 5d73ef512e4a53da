"""The free plan every new device starts on (seed 000: free plans carry a branding footer)."""

FREE_PLAN_CODE = "free"
FREE_PLAN_DEFAULTS = {
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
}

# Paid plans `make run` offers in dev so the billing flow can be tried end to end.
DEV_PAID_PLANS = {
    "pro": {
        "name": "Pro",
        "price": 150_000,
        "period": "monthly",
        "message_quota": 20_000,
        "rate_limit_per_minute": 120,
        "device_limit": 10,
        "features": {"campaigns": True, "auto_reply": True, "webhooks": True},
        "branding_footer": "",
    },
    "business": {
        "name": "Business",
        "price": 400_000,
        "period": "monthly",
        "message_quota": 100_000,
        "rate_limit_per_minute": 600,
        "device_limit": 50,
        "features": {"campaigns": True, "auto_reply": True, "webhooks": True},
        "branding_footer": "",
    },
}
