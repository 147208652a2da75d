"""The Chinese interface's catalog (locale/zh_Hans): complete, human-checked and compiled.

`make messages` adds new strings with an empty msgstr; these tests fail until a person translates
them and the committed .mo is compiled from the current .po (Django reads only the .mo).
"""

import gettext
import re
from pathlib import Path

import polib
from django.conf import settings

LOCALE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[sdif]|\{\w+\}|%%")


def _po() -> polib.POFile:
    return polib.pofile(str(LOCALE / "django.po"))


def _translations(entry: polib.POEntry) -> list[str]:
    return list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]


def test_every_entry_is_translated_and_none_is_fuzzy():
    po = _po()

    untranslated = [e.msgid for e in po if not all(s.strip() for s in _translations(e))]
    fuzzy = [e.msgid for e in po if "fuzzy" in e.flags]

    assert len(po) > 100
    assert untranslated == []
    assert fuzzy == []
    assert not po.metadata_is_fuzzy
    assert po.metadata["Plural-Forms"] == "nplurals=1; plural=0;"


def test_translations_keep_every_placeholder():
    wrong = [
        e.msgid for e in _po() for s in _translations(e)
        if sorted(PLACEHOLDER.findall(s)) != sorted(PLACEHOLDER.findall(e.msgid_plural or e.msgid))
        and sorted(PLACEHOLDER.findall(s)) != sorted(PLACEHOLDER.findall(e.msgid))
    ]
    assert wrong == []


def test_the_committed_mo_is_compiled_from_the_current_po():
    # given the .po as a person edited it and the .mo Django loads at run time
    po = _po()
    with (LOCALE / "django.mo").open("rb") as handle:
        mo = gettext.GNUTranslations(handle)

    # then every entry of the .po reads the same from the .mo (run `make messages` if not)
    stale = []
    for entry in po:
        key = f"{entry.msgctxt}\x04{entry.msgid}" if entry.msgctxt else entry.msgid
        if entry.msgid_plural:
            got = mo._catalog.get((key, 0))  # type: ignore[attr-defined]
            expected = entry.msgstr_plural[0]
        else:
            got = mo._catalog.get(key)  # type: ignore[attr-defined]
            expected = entry.msgstr
        if got != expected:
            stale.append(entry.msgid)
    assert stale == []
    assert len(mo._catalog) - 1 == len(po)  # type: ignore[attr-defined]  # minus the header
