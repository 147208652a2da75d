"""Translated exhibitor content (django-modeltranslation): `name_en`, `name_zh_hans`,
`description_en`, `description_zh_hans`, falling back to English; the English name is required."""

from modeltranslation.translator import TranslationOptions, register

from apps.exhibitors.models import Exhibitor


@register(Exhibitor)
class ExhibitorTranslationOptions(TranslationOptions):
    fields = ("name", "description")
    required_languages = {"en": ("name",)}

