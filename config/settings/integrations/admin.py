"""django-unfold admin: site branding and sidebar."""

from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

UNFOLD = {
    "SITE_TITLE": _("Expo Marketplace"),
    "SITE_HEADER": _("Expo Marketplace"),
    "SITE_SYMBOL": "storefront",
    "SHOW_HISTORY": True,
    "SHOW_VIEW_ON_SITE": False,
    # The home page is the booth's day (operators: the expo's), apps/operations/dashboard.
    "DASHBOARD_CALLBACK": "apps.operations.dashboard.callback.dashboard_callback",
    # "View site": exhibitor staff to the booth scanner, operators to the order-queue console.
    "SITE_URL": "apps.operations.dashboard.navigation.site_url",
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": True,
        "navigation": [
            {
                "title": _("Today"),
                "separator": False,
                "items": [
                    {"title": _("Dashboard"), "icon": "space_dashboard", "link": reverse_lazy("admin:index")},
                    {"title": _("Sales report"), "icon": "summarize", "link": reverse_lazy("dashboard:sales_report"),
                     "permission": "apps.operations.dashboard.navigation.can_view_console_permission"},
                    {"title": _("Booth scanner"), "icon": "qr_code_scanner", "link": "/booth/",
                     "permission": "apps.operations.dashboard.navigation.is_exhibitor_staff_permission"},
                    {"title": _("Order queues"), "icon": "monitoring", "link": reverse_lazy("operations:console"),
                     "permission": "apps.operations.dashboard.navigation.can_view_console_permission"},
                ],
            },
            {
                "title": _("Expo"),
                "separator": True,
                "items": [
                    {"title": _("Exhibitors"), "icon": "store", "link": reverse_lazy("admin:exhibitors_exhibitor_changelist")},
                    {"title": _("Products"), "icon": "inventory_2", "link": reverse_lazy("admin:catalog_product_changelist")},
                    {"title": _("Service slots"), "icon": "event", "link": reverse_lazy("admin:catalog_serviceslot_changelist")},
                    {"title": _("Editions"), "icon": "confirmation_number", "link": reverse_lazy("admin:catalog_edition_changelist")},
                    {"title": _("Download files"), "icon": "download", "link": reverse_lazy("admin:catalog_downloadfile_changelist")},
                    {"title": _("Licence keys"), "icon": "key", "link": reverse_lazy("admin:catalog_licencekey_changelist")},
                    {"title": _("Ballots"), "icon": "casino", "link": reverse_lazy("admin:catalog_ballot_changelist")},
                ],
            },
            {
                # Staff see their own orders and payouts here, operators everyone's (apps/*/admin.py).
                "title": _("Sales and payouts"),
                "separator": True,
                "items": [
                    {"title": _("Orders"), "icon": "receipt_long", "link": reverse_lazy("admin:orders_order_changelist")},
                    {"title": _("Payouts"), "icon": "account_balance",
                     "link": reverse_lazy("admin:payments_payouts")},
                    {"title": _("Transfers"), "icon": "payments",
                     "link": reverse_lazy("admin:payments_transfer_changelist")},
                ],
            },
            {
                # Consumption vouchers: operators run every campaign, staff their own exhibitor's.
                "title": _("Vouchers"),
                "separator": True,
                "items": [
                    {"title": _("Voucher campaigns"), "icon": "local_activity",
                     "link": reverse_lazy("admin:vouchers_campaign_changelist")},
                    {"title": _("Voucher settlement"), "icon": "request_quote",
                     "link": reverse_lazy("admin:payments_vouchersettlement_changelist")},
                    {"title": _("Verified memberships"), "icon": "verified_user",
                     "link": reverse_lazy("admin:accounts_eligibilitymembership_changelist"),
                     "permission": "apps.operations.dashboard.navigation.is_operator_permission"},
                ],
            },
        ],
    },
}
