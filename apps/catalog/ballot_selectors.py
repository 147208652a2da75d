"""Reads of the drops' ballots (API.md "Drops"): a shopper's standing and the public draw record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.translation import gettext_lazy as _

from apps.catalog import selectors
from apps.catalog.models import Ballot, BallotEntry, BallotEntryStatus, BallotStatus, SaleMode
from apps.catalog.services.ballots import ALGORITHM
from marketplace.errors import InvalidState, NotFound

# What a shopper is told of their registration (API.md): internal states folded into four.
PUBLIC_STATUS = {
    BallotEntryStatus.REGISTERED: "registered",
    BallotEntryStatus.WON: "won",
    BallotEntryStatus.CLAIMED: "won",
    BallotEntryStatus.WAITING: "lost",
    BallotEntryStatus.LAPSED: "lost",
}


def ballot_get_public(*, product_id: int) -> Ballot:
    """The ballot of a public (published, approved exhibitor) product sold by ballot. NotFound otherwise."""
    product_ids = selectors.product_list_public().filter(pk=product_id, sale_mode=SaleMode.BALLOT).values("pk")
    ballot = Ballot.objects.filter(product_id__in=product_ids).first()
    if ballot is None:
        raise NotFound()
    return ballot


@dataclass(frozen=True)
class BallotStanding:
    status: str  # not_registered | registered | won | lost
    purchase_by: datetime | None
    registration: str | None  # the shopper's own opaque id, as published with the draw


def ballot_standing(*, product_id: int, user: Any) -> BallotStanding:
    """Where `user` stands in the ballot of a public product. `purchase_by` is the end of their
    window while they hold a win (claimed or not). NotFound for a product without a public ballot."""
    ballot = ballot_get_public(product_id=product_id)
    entry = BallotEntry.objects.filter(ballot=ballot, user_id=user.pk).only("status", "purchase_by", "public_id").first()
    if entry is None:
        return BallotStanding(status="not_registered", purchase_by=None, registration=None)
    status = PUBLIC_STATUS[BallotEntryStatus(entry.status)]
    return BallotStanding(status=status, purchase_by=entry.purchase_by if status == "won" else None,
                          registration=entry.public_id)


@dataclass(frozen=True)
class BallotDrawRecord:
    seed: str
    seed_sha256: str
    drawn_at: datetime
    registrations: list[str]
    winners: list[str]
    algorithm: str


def ballot_draw_record(*, product_id: int) -> BallotDrawRecord:
    """The public record of a drawn ballot: the revealed seed, every registration's opaque id in
    registration order, and the winners of the draw in drawn order, from which anyone can
    recompute the result with `ALGORITHM`. Later offers (wins passed on) follow the same drawn
    order. NotFound for a product without a public ballot; InvalidState before the draw."""
    ballot = ballot_get_public(product_id=product_id)
    if ballot.status == BallotStatus.REGISTRATION or ballot.drawn_at is None:
        raise InvalidState(_("The ballot has not been drawn yet."))
    entries = BallotEntry.objects.filter(ballot=ballot)
    registrations = list(entries.order_by("id").values_list("public_id", flat=True))
    winners = list(entries.filter(draw_position__lte=ballot.winners_count or 0).order_by("draw_position")
                   .values_list("public_id", flat=True))
    return BallotDrawRecord(seed=ballot.seed, seed_sha256=ballot.seed_sha256, drawn_at=ballot.drawn_at,
                            registrations=registrations, winners=winners, algorithm=ALGORITHM)
