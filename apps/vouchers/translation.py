"""Translated campaign titles (django-modeltranslation): `title_en`, `title_zh_hans`. Shoppers read
`campaign.title` in their language (Accept-Language), falling back to English, which is required,
as for products (apps/catalog/translation.py)."""

from modeltranslation.translator import TranslationOptions, register

from apps.vouchers.models import Campaign


@register(Campaign)
class CampaignTranslationOptions(TranslationOptions):
    fields = ("title",)
    required_languages = {"en": ("title",)}
