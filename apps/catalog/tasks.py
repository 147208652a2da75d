"""Catalog tasks: the drops' beat sweeps. Thin and idempotent (DESIGN.md habit 5): each calls one
service, which locks each ballot and skips what is already done."""

from celery import shared_task


@shared_task(name="catalog.ballots_draw_due")
def ballots_draw_due() -> int:
    """Beat, every 30 seconds: draw the ballots whose draw time has come. Returns ballots drawn."""
    from apps.catalog.services import ballots

    return ballots.ballots_draw_due()


@shared_task(name="catalog.ballots_sweep_offers")
def ballots_sweep_offers() -> int:
    """Beat, every minute: lapse unclaimed wins and pass them on in drawn order. Returns new offers."""
    from apps.catalog.services import ballots

    return ballots.ballot_offers_sweep()
