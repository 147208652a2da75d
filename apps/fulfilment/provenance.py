"""Reads of gifting: a certificate's provenance (who held the edition, masked, and when)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from apps.fulfilment.booth.selectors import mask_email
from apps.fulfilment.models import Entitlement


@dataclass(frozen=True)
class ProvenanceEntry:
    holder: str  # masked email: enough to recognise, not enough to harvest
    since: datetime
    until: datetime | None  # given on (or revoked) then; None for the current holder


def certificate_provenance(*, code: str) -> list[ProvenanceEntry]:
    """Every holder of the edition behind certificate `code`, first holder first (one query).

    The rows of one unit share its certificate code: the buyer's, then one per gift received
    (`acquired_at`). A holder's time ends when they gave it on (`transferred_at`) or it was
    revoked (refund). Only masked emails leave this function.
    """
    rows = (Entitlement.objects.filter(certificate_code=code)
            .values_list("user__email", "created_at", "acquired_at", "transferred_at", "revoked_at", "id"))
    entries = [ProvenanceEntry(holder=mask_email(email), since=acquired_at or created_at, until=transferred_at or revoked_at)
               for email, created_at, acquired_at, transferred_at, revoked_at, _pk in sorted(
                   rows, key=lambda r: (r[2] or r[1], r[5]))]
    return entries
