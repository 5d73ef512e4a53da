"""First-start setup for embedded dev mode: admin, demo tenant + key, simulator node (idempotent)."""

import json
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from devices.services import gowa_node_create
from tenants.models import Tenant
from tenants.selectors import api_key_by_secret
from tenants.services import api_key_create, tenant_create

ADMIN_EMAIL = "admin@wavora.local"
DEMO_EMAIL = "demo@wavora.local"


class Command(BaseCommand):
    help = "Create the dev admin, demo tenant, demo API key and simulator node; print them as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--simulator-url", required=True)
        parser.add_argument(
            "--credentials-file", default=str(Path(settings.VAR_DIR) / "dev-credentials.json")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["credentials_file"])
        creds: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        User = get_user_model()

        if not User.objects.filter(username=ADMIN_EMAIL).exists():
            creds["admin_password"] = secrets.token_urlsafe(12)
            User.objects.create_superuser(
                username=ADMIN_EMAIL, email=ADMIN_EMAIL, password=creds["admin_password"]
            )

        tenant = Tenant.objects.filter(memberships__user__username=DEMO_EMAIL).first()
        if tenant is None:
            creds["demo_password"] = secrets.token_urlsafe(12)
            tenant = tenant_create(
                name="Demo Store", owner_email=DEMO_EMAIL, owner_password=creds["demo_password"]
            )
            creds.pop("api_key", None)
        key = api_key_by_secret(creds.get("api_key", ""))
        if key is None or not key.is_usable:
            _, creds["api_key"] = api_key_create(tenant=tenant, name="Demo key", allow_sync_send=True)

        from billing.services import dev_plans_seed  # paid plans to try billing with (issue 5)

        dev_plans_seed()

        sim = creds.setdefault("simulator", {})
        sim.setdefault("basic_auth", f"wavora:{secrets.token_urlsafe(12)}")
        sim.setdefault("webhook_secret", secrets.token_urlsafe(24))
        node = gowa_node_create(
            name="simulator",
            base_url=options["simulator_url"],
            basic_auth=sim["basic_auth"],
            webhook_secret=sim["webhook_secret"],
            capacity=100,
        )
        sim["node_id"] = node.pk

        path.write_text(json.dumps(creds, indent=2))
        path.chmod(0o600)
        self.stdout.write(
            json.dumps(
                {
                    "admin_email": ADMIN_EMAIL,
                    "admin_password": creds.get("admin_password", "(see credentials file)"),
                    "demo_email": DEMO_EMAIL,
                    "demo_password": creds.get("demo_password", "(see credentials file)"),
                    "api_key": creds["api_key"],
                    "tenant_id": str(tenant.pk),
                    "simulator": sim,
                }
            )
        )
