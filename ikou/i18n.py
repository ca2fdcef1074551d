"""Japanese and English (日本語・英語): the language of every message, hint and help text.

The language follows ``--lang`` (which sets ``IKOU_LANG`` so that a group's worker processes speak
the same), else ``IKOU_LANG``, else the locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``: ``ja…`` is
Japanese), else English. The messages are data: ``ikou/catalog/messages.yaml`` pairs each English
template with its Japanese one, gettext style (the English text is the key, so the code reads as
English); ``tests/test_i18n.py`` holds every ``tr(…)`` in the package and every help text to
having both, with the same placeholders.
"""

from __future__ import annotations

import os
import string
from functools import cache
from importlib import resources

import yaml

LANGUAGES = ("en", "ja")
LANG_ENV = "IKOU_LANG"


def language() -> str:
    """``ja`` or ``en``, as resolved now (the environment is read on every call: cheap, and a
    test or a worker process may change it)."""
    given = os.environ.get(LANG_ENV, "").strip().lower()
    if given in LANGUAGES:
        return given
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value:  # the first one set decides, as in POSIX
            return "ja" if value.lower().startswith("ja") else "en"
    return "en"


def set_language(lang: str | None) -> None:
    """``--lang``: ``ja`` or ``en`` from now on, in this process and the ones it starts."""
    if lang is not None:
        if lang not in LANGUAGES:
            raise ValueError(f"language {lang!r} is not one of {', '.join(LANGUAGES)}")
        os.environ[LANG_ENV] = lang
    use_for_click()


def use_for_click() -> None:
    """click's own texts (usage, option list, usage errors) in the same language: click reads them
    through gettext's default domain, so that domain is pointed at ikou's compiled catalogue and
    LANGUAGE (which gettext reads first) is set to ikou's choice."""
    import gettext

    gettext.bindtextdomain("messages", str(resources.files("ikou.catalog").joinpath("locale")))
    os.environ["LANGUAGE"] = language()


@cache
def catalog() -> dict[str, str]:
    """English template -> Japanese template."""
    text = resources.files("ikou.catalog").joinpath("messages.yaml").read_text(encoding="utf-8")
    entries = yaml.safe_load(text)["messages"]
    table: dict[str, str] = {}
    for entry in entries:
        if entry["en"] in table:  # the package's own file: a defect, caught by the catalog test
            raise RuntimeError(f"messages.yaml lists {entry['en']!r} twice")
        table[entry["en"]] = entry["ja"]
    return table


def translate(text: str, lang: str | None = None) -> str:
    """``text`` (an English template or help text) in the current language; as it is where the
    catalogue lacks it (the catalogue test makes that a failing test, not a user's problem)."""
    if (lang or language()) != "ja":
        return text
    return catalog().get(text, text)


def tr(template: str, /, **values: object) -> str:
    """A message: ``template`` (English, ``str.format`` placeholders) in the current language,
    filled with ``values``. Without values the template is returned as it is (no formatting, so a
    literal brace needs no doubling)."""
    text = translate(template)
    return text.format(**values) if values else text


def mark(text: str) -> str:
    """An English text kept as data and translated where it is shown (``tr(text)`` then): marked so
    that the catalogue test finds it."""
    return text


def placeholders(template: str) -> set[str]:
    """The names a template fills (``{path}``, ``{n:,}`` -> path, n): a translation must use the
    same ones."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def click_catalog_mo() -> bytes:
    """``ikou/catalog/click.ja.yaml`` as a GNU gettext .mo file (what click's gettext reads)."""
    import struct

    text = resources.files("ikou.catalog").joinpath("click.ja.yaml").read_text(encoding="utf-8")
    pairs = {"": "Content-Type: text/plain; charset=UTF-8\nPlural-Forms: nplurals=2; plural=(n != 1);\n"}
    for entry in yaml.safe_load(text)["messages"]:
        if "en_plural" in entry:
            pairs[entry["en"] + "\0" + entry["en_plural"]] = entry["ja"] + "\0" + entry["ja_plural"]
        else:
            pairs[entry["en"]] = entry["ja"]
    keys = sorted(pairs, key=lambda k: k.encode("utf-8"))  # gettext's binary search wants them sorted
    ids, strs = [k.encode("utf-8") for k in keys], [pairs[k].encode("utf-8") for k in keys]
    start = 7 * 4 + 16 * len(keys)  # header, then the two tables of (length, offset)
    blob, table_ids, table_strs = b"", [], []
    for data, table in [(d, table_ids) for d in ids] + [(d, table_strs) for d in strs]:
        table.append((len(data), start + len(blob)))
        blob += data + b"\0"
    header = struct.pack("<7I", 0x950412DE, 0, len(keys), 28, 28 + 8 * len(keys), 0, 0)
    tables = b"".join(struct.pack("<2I", *e) for e in table_ids + table_strs)
    return header + tables + blob
