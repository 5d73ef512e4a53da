import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from devices.services import gowa_node_create


class Command(BaseCommand):
    help = "Add (or update, by name) a GOWA node that devices can be placed on."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--base-url", required=True, help="e.g. http://gowa-1:3000")
        parser.add_argument("--basic-auth", default="", help="user:password, as in GOWA's APP_BASIC_AUTH")
        parser.add_argument("--webhook-secret", default="", help="Default: a new random secret")
        parser.add_argument("--capacity", type=int, default=50)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        node = gowa_node_create(
            name=options["name"],
            base_url=options["base_url"],
            basic_auth=options["basic_auth"],
            webhook_secret=options["webhook_secret"],
            capacity=options["capacity"],
        )
        result = {"node_id": node.pk, "name": node.name, "callback_url": node.callback_url}
        self.stdout.write(
            json.dumps(result)
            if options["json"]
            else f"GOWA node {node.name} (id {node.pk}); GOWA posts webhooks to {node.callback_url}"
        )
