"""django-unfold admin: site branding and sidebar."""

from django.urls import reverse_lazy

UNFOLD = {
    "SITE_TITLE": "Expo Marketplace",
    "SITE_HEADER": "Expo Marketplace",
    "SITE_SYMBOL": "storefront",
    "SHOW_HISTORY": True,
    "SHOW_VIEW_ON_SITE": False,
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": True,
        "navigation": [
            {
                "title": "Expo",
                "separator": True,
                "items": [
                    {"title": "Exhibitors", "icon": "store", "link": reverse_lazy("admin:exhibitors_exhibitor_changelist")},
                    {"title": "Products", "icon": "inventory_2", "link": reverse_lazy("admin:catalog_product_changelist")},
                    {"title": "Service slots", "icon": "event", "link": reverse_lazy("admin:catalog_serviceslot_changelist")},
                    {"title": "Editions", "icon": "confirmation_number", "link": reverse_lazy("admin:catalog_edition_changelist")},
                    {"title": "Download files", "icon": "download", "link": reverse_lazy("admin:catalog_downloadfile_changelist")},
                    {"title": "Licence keys", "icon": "key", "link": reverse_lazy("admin:catalog_licencekey_changelist")},
                ],
            },
        ],
    },
}
