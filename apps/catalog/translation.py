"""Translated product content (django-modeltranslation): `title_en`, `title_zh_hans`,
`description_en`, `description_zh_hans`. `product.title` reads the active language, falling back
to English (settings MODELTRANSLATION_FALLBACK_LANGUAGES); the English title is required."""

from modeltranslation.translator import TranslationOptions, register

from apps.catalog.models import Product


@register(Product)
class ProductTranslationOptions(TranslationOptions):
    fields = ("title", "description")
    required_languages = {"en": ("title",)}

