"""`python manage.py load_demo`: the demo expo from fixtures/demo_expo.json (see ..demo).

Safe to run on every start: a second run creates nothing and says "already loaded".
"""

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import IntegrityError

from apps.catalog.management.demo import (
    DEMO_FIXTURE,
    DEMO_PASSWORD,
    OPERATOR_EMAIL,
    SHOPPER_EMAIL,
    DemoFixtureError,
    demo_load,
    staff_email,
)
from apps.catalog.management.demo_ballots import demo_ballot_load
from apps.catalog.management.demo_bundles import demo_bundle_load
from marketplace import events
from marketplace.errors import DomainError

# Re-exported so callers that think of "the load_demo command" find the account constants here too.
__all__ = ["DEMO_PASSWORD", "OPERATOR_EMAIL", "SHOPPER_EMAIL", "Command", "staff_email"]


class Command(BaseCommand):
    help = "Load the demo expo (exhibitors, products of every kind, demo accounts). Idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fixture", type=Path, default=DEMO_FIXTURE, help="Demo data file (default: %(default)s).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = demo_load(fixture=options["fixture"])
            demo_bundle_load(result=result)
            demo_ballot_load(result=result)
            # Apps above catalog add their demo data as subscribers (vouchers: apps/vouchers/demo.py).
            events.emit("demo.loaded")
        except (OSError, ValueError, KeyError, DemoFixtureError, DomainError, ValidationError, IntegrityError) as exc:
            raise CommandError(f"Demo expo not loaded: {exc}") from exc

        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(result.products_by_kind.items()))
        shape = (f"{len(result.exhibitors)} exhibitors in {len(result.halls)} halls ({', '.join(result.halls)}), "
                 f"{result.products_by_kind.total()} products ({kinds})")
        if result.already_loaded:
            self.stdout.write(f"Demo expo already loaded: {shape}. Nothing changed.")
        else:
            created = ", ".join(f"{n} {what}" for what, n in result.created.items() if n)
            self.stdout.write(self.style.SUCCESS(f"Demo expo loaded: {shape}."))
            self.stdout.write(f"Created {created}.")
        self.stdout.write(f"Demo accounts (password {DEMO_PASSWORD}):")
        width = max(len(email) for email, _ in result.accounts())
        for email, role in result.accounts():
            self.stdout.write(f"  {email:<{width}}  {role}")
