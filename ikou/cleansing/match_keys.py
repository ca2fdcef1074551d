"""Derived match keys for duplicate detection (名寄せ): folded forms of names, readings,
addresses and phone numbers that make variants of one person compare equal.

A match key is computed next to the landed value and never replaces it: 髙橋 stays 髙橋 in the
landed table, and only its key reads 高橋 (DOMAIN.md §5). All keys are polars expressions
(vectorised; no Python per value). The folds:

- ``name_key`` (氏名): NFKC (compatibility ideographs such as U+FA10 塚, full-width letters),
  ideographic variation selectors dropped, 異体字 folded to a representative through
  ``data/variants.tsv`` (curated name groups + the 国税庁 JIS縮退マップ), spaces removed.
- ``kana_key`` (フリガナ): half-width katakana widened, hiragana -> katakana, small kana ->
  their full size (ァ -> ア, ッ -> ツ), ヴァ/ヴィ/ヴ… -> バ/ビ/ブ…, ヂ/ヅ/ヲ -> ジ/ズ/オ, long vowel
  marks, spaces and middle dots removed.
- ``address_key`` (町字 + 番地, 本籍): NFKC, spaces removed, 漢数字 (to 9999) -> digits, 丁目/番地/番/号/の
  after a number and hyphen look-alikes -> ``-`` (二丁目八番二十号 = ２丁目８番２０号 = 2-8-20).
- ``phone_key``: the digits only.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import polars as pl

from ikou.cleansing.text import HALF_WIDTH_KANA

KANJI_DIGITS = "〇一二三四五六七八九"
HIRAGANA_TO_KATAKANA = {chr(c): chr(c + 0x60) for c in range(0x3041, 0x3097)}  # ぁ … ゖ (ゔ included)
SMALL_KANA = dict(zip("ァィゥェォッャュョヮヵヶ", "アイウエオツヤユヨワカケ"))
KANA_FOLDS = {"ヴァ": "バ", "ヴィ": "ビ", "ヴェ": "ベ", "ヴォ": "ボ", "ヴュ": "ビユ", "ヴ": "ブ",
              "ヂ": "ジ", "ヅ": "ズ", "ヲ": "オ", "ヰ": "イ", "ヱ": "エ"}
KANA_DROP = "ー \u3000・･=＝"
NAME_DROP = " \u3000・"
SELECTORS = "[\ufe00-\ufe0f\U000e0100-\U000e01ef]"
HYPHEN_LIKE = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff0d\uff70"


@cache
def variant_folds() -> dict[str, str]:
    """variant character -> its representative (data/variants.tsv)."""
    text = (resources.files("ikou.cleansing") / "data" / "variants.tsv").read_text(encoding="utf-8")
    return {v: r for v, r, *_ in (line.split("\t") for line in text.splitlines()
                                  if line and not line.startswith("#"))}


def _drop(e: pl.Expr, chars: str) -> pl.Expr:
    return e.str.replace_all(f"[{chars}]", "")


def name_key(e: pl.Expr) -> pl.Expr:
    folded = e.str.normalize("NFKC").str.replace_all(SELECTORS, "").str.replace_many(variant_folds()).str.to_uppercase()
    return _drop(folded, NAME_DROP)


def nfkc_name_key(e: pl.Expr) -> pl.Expr:
    """The plain baseline: NFKC and spaces removed, no variant folding (for comparison only)."""
    return _drop(e.str.normalize("NFKC"), NAME_DROP)


def kana_key(e: pl.Expr) -> pl.Expr:
    e = e.str.replace_many(HALF_WIDTH_KANA, leftmost=True).str.replace_many(HIRAGANA_TO_KATAKANA)
    e = e.str.replace_many(KANA_FOLDS, leftmost=True).str.replace_many(SMALL_KANA)
    return _drop(e, KANA_DROP)


def kanji_numerals(e: pl.Expr) -> pl.Expr:
    """一 … 九千九百九十九 -> 1 … 9999, and digit-by-digit 一二三四 -> 1234 (戸籍 and old
    registers write 本籍 and 番地 both ways). Each unit gets its digit (千 -> 一千), missing
    places get 〇 (二千五 -> 二千〇百〇十五), then the units go. Applied to whole addresses: 千葉
    becomes 1000葉 on both sides alike, which keeps equal texts equal."""
    z, nz = "[〇一二三四五六七八九]", "[^〇一二三四五六七八九]"
    for _ in range(3):  # an implicit 一 before a unit (千百十 needs three passes: matches do not overlap)
        e = e.str.replace_all(f"(^|{nz})([千百十])", "${1}一${2}")
    e = e.str.replace_all(f"({z})千({z})十", "${1}千〇百${2}十")
    e = e.str.replace_all(f"({z})千({z})([^百十]|$)", "${1}千〇百〇十${2}${3}")
    e = e.str.replace_all(f"({z})千({nz}|$)", "${1}千〇百〇十〇${2}")
    e = e.str.replace_all(f"({z})百({z})([^十]|$)", "${1}百〇十${2}${3}")
    e = e.str.replace_all(f"({z})百({nz}|$)", "${1}百〇十〇${2}")
    e = e.str.replace_all(f"({z})十({z})", "${1}${2}")
    e = e.str.replace_all(f"({z})十", "${1}〇")
    e = e.str.replace_all(f"({z})[千百]", "${1}")
    return e.str.replace_many({k: str(i) for i, k in enumerate(KANJI_DIGITS)})


def address_key(e: pl.Expr) -> pl.Expr:
    e = kanji_numerals(e.str.normalize("NFKC").str.replace_all(r"\s", ""))
    e = e.str.replace_all("([0-9])(丁目|番地の|番地|番の|番|号|の)", "${1}-")
    e = e.str.replace_all(f"([0-9])[{HYPHEN_LIKE}]", "${1}-")
    return e.str.replace_all("-+", "-").str.strip_chars_end("-")


def phone_key(e: pl.Expr) -> pl.Expr:
    digits = e.str.normalize("NFKC").str.replace_all("[^0-9]", "")
    return pl.when(digits.str.len_chars() >= 6).then(digits)
