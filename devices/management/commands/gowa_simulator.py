"""``manage.py gowa_simulator``: run the GOWA v9.2 simulator in the foreground (devices/gowa_simulator.py)."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from devices import gowa_simulator


class Command(BaseCommand):
    help = (
        "Run an in-memory simulator of the GOWA WhatsApp gateway (v9.2), including the phone and the "
        "recipients. Control it through /_sim/* (scan, inbound, logout, config, ...)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        gowa_simulator.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            config = gowa_simulator.config_from_options(options)
        except ValueError as exc:  # a malformed --basic-auth
            raise CommandError(str(exc)) from exc
        try:
            gowa_simulator.run(options["host"], options["port"], config)
        except OSError as exc:  # typically "Address already in use"
            raise CommandError(f"cannot listen on {options['host']}:{options['port']}: {exc}") from exc
