import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.principal import ALL_SCOPES
from tenants.services import api_key_create, tenant_create
from wavora.api.errors import WavoraError


class Command(BaseCommand):
    help = "Create a tenant, its owner and a first API key (printed once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--owner-password", required=True)
        parser.add_argument("--scopes", nargs="*", default=None, help="Default: every scope")
        parser.add_argument("--allow-sync", action="store_true", help="Let the key use X-Send-Mode: sync")
        parser.add_argument("--max-devices", type=int, default=0)
        parser.add_argument("--json", action="store_true", help="Print machine-readable JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        scopes = options["scopes"]
        if scopes is not None:
            scopes = [s for chunk in scopes for s in chunk.replace(",", " ").split()]
            unknown = sorted(set(scopes) - ALL_SCOPES)
            if unknown:
                raise CommandError(f"Unknown scopes: {', '.join(unknown)}")
        try:
            tenant = tenant_create(
                name=options["name"],
                owner_email=options["owner_email"],
                owner_password=options["owner_password"],
            )
        except WavoraError as exc:
            raise CommandError(exc.message)
        if options["max_devices"]:
            tenant.max_devices = options["max_devices"]
            tenant.save(update_fields=["max_devices"])
        _, raw = api_key_create(
            tenant=tenant, name="Default key", scopes=scopes, allow_sync_send=options["allow_sync"]
        )
        result = {
            "tenant_id": str(tenant.pk),
            "owner_email": options["owner_email"].strip().lower(),
            "api_key": raw,
        }
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write(
                f"Tenant {tenant.name} ({tenant.pk})\nOwner: {result['owner_email']}\nAPI key: {raw}"
            )
