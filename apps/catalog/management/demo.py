"""The demo expo: fixtures/demo_expo.json loaded through the exhibitor and catalog services.

`make run` loads it once; the accounts below are the ones API.md "Demo accounts" promises, so
scripts and docs import them from here rather than repeating them.

Every row is got-or-created by its natural key (exhibitor slug, product slug within its exhibitor,
account email), so a second load creates nothing and changes nothing: existing rows are left as
they are, even if an operator has edited them since (a suspended demo exhibitor stays suspended).
Inventory (editions, slots, licence keys, files) is only added together with a newly created
product, so it is never doubled.
"""

import json
import re
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.catalog import services as catalog_services
from apps.catalog.models import DownloadFile, Product, ProductKind
from apps.exhibitors import services as exhibitor_services
from apps.exhibitors.models import Exhibitor, ExhibitorMembership, ExhibitorStatus

DEMO_PASSWORD = "expo-demo-2026"
OPERATOR_EMAIL = "operator@expo.test"
SHOPPER_EMAIL = "shopper@expo.test"
DEMO_FIXTURE = Path(settings.BASE_DIR) / "fixtures" / "demo_expo.json"


def staff_email(exhibitor_slug: str) -> str:
    """The demo staff account of an exhibitor: staff@<exhibitor-slug>.expo.test."""
    return f"staff@{exhibitor_slug}.expo.test"


class DemoFixtureError(ValueError):
    """The fixture file is malformed (unknown field, bad relative time, missing key)."""


_EXHIBITOR_FIELDS = frozenset({"slug", "name", "name_zh_hans", "hall", "booth", "description", "description_zh_hans", "products"})
_PRODUCT_FIELDS = frozenset({
    "kind", "slug", "title", "title_zh_hans", "description", "description_zh_hans", "price", "currency",
    "per_customer_limit", "edition_size", "stock_total", "download_limit",
    "sale_starts_at", "sale_ends_at", "pass_valid_from", "pass_valid_until",
})
_PRODUCT_EXTRAS = frozenset({"slots", "licence_keys", "file"})
_DATETIME_FIELDS = ("sale_starts_at", "sale_ends_at", "pass_valid_from", "pass_valid_until")
_OFFSET = re.compile(r"^\s*([+-])\s*(\d+)\s*(minute|hour|day)s?\s*$")


@dataclass
class DemoLoadResult:
    """What a load did: `created` counts new rows by kind; the rest describes the demo as stored."""

    created: Counter[str] = field(default_factory=Counter)
    exhibitors: list[Exhibitor] = field(default_factory=list)
    products_by_kind: Counter[str] = field(default_factory=Counter)

    @property
    def already_loaded(self) -> bool:
        return not any(self.created.values())

    @property
    def halls(self) -> list[str]:
        return sorted({exhibitor.hall for exhibitor in self.exhibitors})

    def accounts(self) -> list[tuple[str, str]]:
        """(email, role description) of every demo account, operator first."""
        rows = [(OPERATOR_EMAIL, "operator (superuser)"), (SHOPPER_EMAIL, "shopper")]
        rows += [(staff_email(e.slug), f"staff of {e.name}") for e in self.exhibitors]
        return rows


def resolve_when(value: Any, *, now: datetime) -> datetime | None:
    """A fixture time to an aware datetime.

    None stays None; "now", "+2 days", "-1 hours", "+90 minutes" are offsets from `now`;
    {"days": 1, "hour": 10, "minute": 30} is that wall-clock time in the current time zone
    (Asia/Shanghai), `days` after today. Raises DemoFixtureError for anything else.
    """
    if value is None:
        return None
    if isinstance(value, str):
        if value.strip() == "now":
            return now
        match = _OFFSET.match(value)
        if not match:
            raise DemoFixtureError(f"Unrecognised relative time {value!r} (use e.g. '+2 days').")
        sign, amount, unit = match.groups()
        delta = timedelta(**{f"{unit}s": int(amount)})
        return now + delta if sign == "+" else now - delta
    if isinstance(value, dict):
        unknown = set(value) - {"days", "hour", "minute"}
        if unknown or "days" not in value:
            raise DemoFixtureError(f"A calendar time needs days/hour/minute only, got {sorted(value)}.")
        day = timezone.localtime(now).date() + timedelta(days=int(value["days"]))
        at = time(int(value.get("hour", 0)), int(value.get("minute", 0)))
        return datetime.combine(day, at, tzinfo=timezone.get_current_timezone())
    raise DemoFixtureError(f"Unrecognised time {value!r}.")


def demo_pdf(lines: list[str]) -> bytes:
    """A one-page PDF showing `lines` in Helvetica, small enough to keep in the private storage.

    Built by hand because the demo needs only a real-looking file, not a PDF library; the xref
    offsets are computed so viewers open it without repair. Non-ASCII characters become '?'
    (the standard fonts have no CJK glyphs).
    """
    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    text = "".join(f"({escape(line)}) Tj T*\n" for line in lines)
    stream = f"BT\n/F1 12 Tf\n18 TL\n72 770 Td\n{text}ET".encode("ascii", errors="replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref_at)
    return bytes(out)


def _licence_key(prefix: str) -> str:
    return "-".join([prefix, *(secrets.token_hex(2).upper() for _ in range(3))])


def _account(email: str, *, result: DemoLoadResult, superuser: bool = False) -> User:
    user = User.objects.filter(email__iexact=email).first()
    if user is not None:
        return user
    result.created["accounts"] += 1
    if superuser:
        return User.objects.create_superuser(email=email, password=DEMO_PASSWORD)
    return User.objects.create_user(email=email, password=DEMO_PASSWORD)


def _exhibitor(row: dict[str, Any], *, operator: User, result: DemoLoadResult) -> Exhibitor:
    unknown = set(row) - _EXHIBITOR_FIELDS
    if unknown:
        raise DemoFixtureError(f"Exhibitor {row.get('slug')!r}: unknown fields {sorted(unknown)}.")
    exhibitor = Exhibitor.objects.filter(slug=row["slug"]).first()
    if exhibitor is None:
        exhibitor = exhibitor_services.exhibitor_create(
            slug=row["slug"], name=row["name"], name_zh_hans=row.get("name_zh_hans", ""), hall=row["hall"],
            booth=row["booth"], description=row.get("description", ""),
            description_zh_hans=row.get("description_zh_hans", ""),
            contact_email=f"hello@{row['slug']}.expo.test",
        )
        result.created["exhibitors"] += 1
        if exhibitor.status == ExhibitorStatus.PENDING:
            exhibitor = exhibitor_services.exhibitor_approve(exhibitor=exhibitor, by=operator)
    staff = _account(staff_email(exhibitor.slug), result=result)
    if not ExhibitorMembership.objects.filter(exhibitor=exhibitor, user=staff).exists():
        exhibitor_services.exhibitor_member_add(exhibitor=exhibitor, user=staff)
        result.created["memberships"] += 1
    return exhibitor


def _product(row: dict[str, Any], *, exhibitor: Exhibitor, now: datetime, result: DemoLoadResult) -> Product:
    unknown = set(row) - _PRODUCT_FIELDS - _PRODUCT_EXTRAS
    if unknown:
        raise DemoFixtureError(f"Product {row.get('slug')!r}: unknown fields {sorted(unknown)}.")
    existing = Product.objects.filter(exhibitor=exhibitor, slug=row["slug"]).first()
    if existing is not None:
        return existing

    values = {name: row[name] for name in _PRODUCT_FIELDS if name in row}
    # `title` and `description` are the English texts: stored in the `_en` columns whatever
    # language is active (modeltranslation would put them in the active language's column).
    for name in ("title", "description"):
        if name in values:
            values[f"{name}_en"] = values.pop(name)
    for name in _DATETIME_FIELDS:
        if name in values:
            values[name] = resolve_when(values[name], now=now)
    keys_spec = row.get("licence_keys")
    if keys_spec and "stock_total" not in values:
        # A key pool cannot sell more than it holds: the stock counter refuses the order up front
        # instead of fulfilment failing after payment.
        values["stock_total"] = int(keys_spec["count"])

    product = catalog_services.product_save(product=Product(exhibitor=exhibitor, **values))
    result.created["products"] += 1
    if product.kind == ProductKind.COLLECTIBLE and product.edition_size:
        result.created["editions"] += product.edition_size

    if row.get("slots"):
        windows = []
        for slot in row["slots"]:
            starts_at = resolve_when({k: slot[k] for k in ("days", "hour", "minute") if k in slot}, now=now)
            assert starts_at is not None
            windows.append((starts_at, starts_at + timedelta(minutes=int(slot["minutes"]))))
        # The fixture lists one capacity per slot; slots_create takes one per call, so group them.
        by_capacity: dict[int, list[tuple[datetime, datetime]]] = {}
        for slot, window in zip(row["slots"], windows, strict=True):
            by_capacity.setdefault(int(slot["capacity"]), []).append(window)
        for capacity, group in by_capacity.items():
            result.created["slots"] += len(catalog_services.slots_create(product=product, windows=group, capacity=capacity))

    if keys_spec:
        keys = {_licence_key(keys_spec["prefix"]) for _ in range(int(keys_spec["count"]))}
        result.created["licence keys"] += catalog_services.licence_keys_add(product=product, keys=sorted(keys))

    if row.get("file"):
        spec = row["file"]
        catalog_services.download_file_save(download_file=DownloadFile(
            product=product, name=spec["name"], file=ContentFile(demo_pdf(spec["lines"]), name=spec["filename"]),
        ))
        result.created["files"] += 1
    # Published last: a product goes on sale only once it can deliver (its slots, keys, file).
    return catalog_services.product_set_published(product=product, published=True)


def demo_load(*, fixture: Path = DEMO_FIXTURE, now: datetime | None = None) -> DemoLoadResult:
    """Load the demo expo from `fixture`; times in it are relative to `now` (default: now).

    Idempotent: rows that exist (by slug or email) are kept as they are and nothing is added to
    them; `result.already_loaded` tells whether anything was created. One transaction, so a
    malformed fixture (DemoFixtureError) or a refused row (ValidationFailed, ValidationError)
    leaves the database untouched; a download file already written to storage by then stays
    behind as an orphan, which is harmless.
    """
    data = json.loads(Path(fixture).read_text(encoding="utf-8"))
    now = now or timezone.now()
    result = DemoLoadResult()
    with transaction.atomic():
        operator = _account(OPERATOR_EMAIL, result=result, superuser=True)
        _account(SHOPPER_EMAIL, result=result)
        for row in data["exhibitors"]:
            exhibitor = _exhibitor(row, operator=operator, result=result)
            result.exhibitors.append(exhibitor)
            for product_row in row.get("products", []):
                product = _product(product_row, exhibitor=exhibitor, now=now, result=result)
                result.products_by_kind[product.kind] += 1
    return result
