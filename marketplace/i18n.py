"""Small helpers for the interface languages (settings LANGUAGES: English and Simplified Chinese).

Imported by settings, so it must not import models or anything that needs the app registry.
"""

from typing import Any

from django.utils import translation
from django.utils.translation import gettext


def gettext_noop(message: str) -> str:
    """Marks `message` for makemessages (xgettext knows the name). Django's own gettext_noop reads
    settings.USE_I18N, and this module is imported while settings load: that read would configure
    Django from the half-imported settings module (production's refusals then never raise)."""
    return message

# Shown after a translated field's label in the admin: "Title (English)", "标题（中文）".
_LANGUAGE_SUFFIX = {"en": gettext_noop("%(label)s (English)"), "zh-hans": gettext_noop("%(label)s (Chinese)")}


def localized_verbose_name(verbose_name: object, lang: str) -> str:
    """modeltranslation's label for `<field>_<lang>` (MODELTRANSLATION_BUILD_LOCALIZED_VERBOSE_NAME).

    Called lazily by modeltranslation, so the suffix is in the language active when it is shown.
    """
    template = _LANGUAGE_SUFFIX.get(lang)
    label = str(verbose_name)
    return gettext(template) % {"label": label} if template else f"{label} [{lang}]"



class EnglishOriginalColumnsMixin:
    """For models with translated fields (django-modeltranslation): the untranslated column
    (`title`, `name`, ...) always holds the English text.

    modeltranslation reads and writes `<field>_<language>`; the original column stays in the table
    and is what raw SQL and lookups through unregistered models (`F("product__title")`) see. Django
    saves it from the attribute, which modeltranslation answers in the active language, so saving
    happens with English active. `update_fields` naming a translated field is widened to all of
    its language columns, so a Chinese edit saved with `update_fields=["title"]` is kept.
    """

    def save(self, *args: Any, **kwargs: Any) -> None:
        from modeltranslation.translator import translator

        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            translated: dict[str, Any] = translator.get_options_for_model(type(self)).all_fields  # type: ignore[arg-type]
            widened = set(update_fields)
            for name in update_fields:
                widened.update(str(column.attname) for column in translated.get(name, ()))
            kwargs["update_fields"] = sorted(widened)
        with translation.override("en"):
            super().save(*args, **kwargs)  # type: ignore[misc]
