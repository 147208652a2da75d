"""Output of the library, certificates and pass redemption (API.md "What shoppers own")."""

from datetime import timedelta
from typing import Any, cast

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from apps.catalog.models import ProductKind
from apps.fulfilment import links, selectors, services
from apps.fulfilment.models import Entitlement, EntitlementStatus

# Each kind's part of a library item: null on items of the other kinds (allow_null).
EDITION = inline_serializer("LibraryEdition", {
    "serial": serializers.IntegerField(), "edition_size": serializers.IntegerField(),
    "certificate_code": serializers.CharField(), "certificate_url": serializers.CharField(),
}, allow_null=True)
BOOKING = inline_serializer("LibraryBooking", {
    "starts_at": serializers.DateTimeField(), "ends_at": serializers.DateTimeField(), "access_url": serializers.CharField(allow_null=True),
}, allow_null=True)
DOWNLOAD = inline_serializer("LibraryDownload", {
    "url": serializers.CharField(allow_null=True), "expires_at": serializers.DateTimeField(allow_null=True),
    "downloads_left": serializers.IntegerField(allow_null=True), "licence_key": serializers.CharField(allow_null=True),
    "files": inline_serializer("LibraryDownloadFile", {"name": serializers.CharField(), "url": serializers.CharField()}, many=True),
}, allow_null=True)
PASS = inline_serializer("LibraryPass", {
    "token": serializers.CharField(allow_null=True),
    "qr_svg_url": serializers.CharField(help_text="The pass's QR code (SVG); the signed link opens without a header."),
    "qr_png_url": serializers.CharField(help_text="The same QR code as PNG."),
    "valid_from": serializers.DateTimeField(allow_null=True), "valid_until": serializers.DateTimeField(allow_null=True),
    "redeemed_at": serializers.DateTimeField(allow_null=True),
}, allow_null=True)


class LibraryItemSerializer(serializers.ModelSerializer):
    """One entitlement. `edition`, `booking`, `download` and `pass` are null except for their kind."""

    product = serializers.SerializerMethodField()
    order = serializers.SerializerMethodField()
    edition = serializers.SerializerMethodField()
    booking = serializers.SerializerMethodField()
    download = serializers.SerializerMethodField()
    # Declared as `pass_` (a Python keyword cannot name an attribute) and renamed `pass` in
    # get_fields, so the response and the OpenAPI schema (which reads `fields`) both say `pass`.
    pass_ = serializers.SerializerMethodField(method_name="get_pass")
    transferable_at = serializers.SerializerMethodField(
        help_text="Collectibles: when the holder may give it to another shopper (holding period); null for other kinds "
                  "and once given or revoked.")

    class Meta:
        model = Entitlement
        fields = ["id", "kind", "status", "product", "order", "created_at", "revoked_at", "transferable_at", "edition", "booking",
                  "download", "pass_"]
        read_only_fields = fields

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["pass"] = fields.pop("pass_")
        return fields

    def _access(self, obj: Entitlement) -> selectors.LibraryAccess:
        # The visibility rule is the selector's; computed once per item (each getter asks).
        cache = self.context.setdefault("_access", {})
        if obj.pk not in cache:
            cache[obj.pk] = selectors.library_item_access(obj)
        return cache[obj.pk]

    @extend_schema_field(inline_serializer("LibraryProduct", {
        "id": serializers.IntegerField(), "title": serializers.CharField(),
        "exhibitor": inline_serializer("LibraryExhibitor", {"slug": serializers.CharField(), "name": serializers.CharField()}),
    }))
    def get_product(self, obj: Entitlement) -> dict[str, Any]:
        return {"id": obj.product_id, "title": obj.product.title,
                "exhibitor": {"slug": obj.exhibitor.slug, "name": obj.exhibitor.name}}

    @extend_schema_field(inline_serializer("LibraryOrder", {"id": serializers.CharField(), "number": serializers.CharField()},
                                           allow_null=True,
                                           help_text="Null for an item received as a gift (the giver's order stays theirs)."))
    def get_order(self, obj: Entitlement) -> dict[str, Any] | None:
        if obj.acquired_at is not None:
            return None
        return {"id": str(obj.order_id), "number": obj.order.number}

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_transferable_at(self, obj: Entitlement) -> str | None:
        when = services.entitlement_transferable_at(obj) if obj.status == EntitlementStatus.ACTIVE else None
        return serializers.DateTimeField().to_representation(when) if when else None

    @extend_schema_field(EDITION)
    def get_edition(self, obj: Entitlement) -> dict[str, Any] | None:
        if obj.kind != ProductKind.COLLECTIBLE or obj.serial is None:
            return None
        return {"serial": obj.serial, "edition_size": obj.edition_size, "certificate_code": obj.certificate_code,
                "certificate_url": links.certificate_page_url(obj.certificate_code or "")}

    @extend_schema_field(BOOKING)
    def get_booking(self, obj: Entitlement) -> dict[str, Any] | None:
        if obj.kind != ProductKind.SERVICE or obj.slot is None:
            return None
        return {"starts_at": serializers.DateTimeField().to_representation(obj.slot.starts_at),
                "ends_at": serializers.DateTimeField().to_representation(obj.slot.ends_at),
                "access_url": self._access(obj).booking_url}

    @extend_schema_field(DOWNLOAD)
    def get_download(self, obj: Entitlement) -> dict[str, Any] | None:
        if obj.kind != ProductKind.DOWNLOAD:
            return None
        access = self._access(obj)
        files = access.files
        ttl = cast(timedelta, settings.FULFILMENT["DOWNLOAD_LINK_TTL"])
        return {
            "url": files[0]["url"] if files else None,
            "expires_at": serializers.DateTimeField().to_representation(timezone.now() + ttl) if files else None,
            "downloads_left": obj.downloads_left,
            "licence_key": access.licence_key,
            "files": files,
        }

    @extend_schema_field(PASS)
    def get_pass(self, obj: Entitlement) -> dict[str, Any] | None:
        if obj.kind != ProductKind.PASS:
            return None
        dt = serializers.DateTimeField()
        return {
            "token": self._access(obj).pass_token,
            "qr_svg_url": links.pass_qr_url(obj, "svg"),
            "qr_png_url": links.pass_qr_url(obj, "png"),
            "valid_from": dt.to_representation(obj.valid_from) if obj.valid_from else None,
            "valid_until": dt.to_representation(obj.valid_until) if obj.valid_until else None,
            "redeemed_at": dt.to_representation(obj.redeemed_at) if obj.redeemed_at else None,
        }


class CertificateSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    product = serializers.CharField()
    exhibitor = serializers.CharField()
    serial = serializers.IntegerField()
    edition_size = serializers.IntegerField()
    issued_at = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField(allow_null=True)
    signature = serializers.CharField(help_text="Ed25519 signature (base64url) of signed_message.")
    signed_message = serializers.CharField()
    key_id = serializers.CharField()
    public_key = serializers.CharField(help_text="The platform's Ed25519 public key, base64 (32 raw bytes).")
    provenance = serializers.SerializerMethodField(help_text="Every holder of the edition, first holder first.")
    transferable_at = serializers.DateTimeField(allow_null=True, help_text="When the current holder may give it on.")

    @extend_schema_field(inline_serializer("CertificateProvenance", {
        "holder": serializers.CharField(help_text="Masked email."), "from": serializers.DateTimeField(),
        "until": serializers.DateTimeField(allow_null=True, help_text="Null for the current holder."),
    }, many=True))
    def get_provenance(self, obj: selectors.CertificateView) -> list[dict[str, Any]]:
        dt = serializers.DateTimeField()
        return [{"holder": entry.holder, "from": dt.to_representation(entry.since),
                 "until": dt.to_representation(entry.until) if entry.until else None}
                for entry in obj.provenance]


class PassRedeemInputSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=300)


class PassRedeemOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    product = serializers.CharField(source="product.title")
    valid_from = serializers.DateTimeField(allow_null=True)
    valid_until = serializers.DateTimeField(allow_null=True)
    redeemed_at = serializers.DateTimeField()
