import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from tenants.services import api_key_create


class Command(BaseCommand):
    help = "Create a platform-admin API key for the /admin/… API and /health/detailed (printed once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        _, raw = api_key_create(tenant=None, name=options["name"], scopes=[], is_platform_admin=True)
        self.stdout.write(json.dumps({"api_key": raw}) if options["json"] else f"Admin API key: {raw}")
