"""Field profiles (DOMAIN.md §5): each rule on real strings, and properties: a name is never
altered beyond trimming its edges, and every change keeps its original and names its rule."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikou.cleansing.text import EDGE_SPACES, cleanse_text, rules_expr, steps_for


def clean(profile: str, values: list[str | None], pad: int | None = None) -> list[tuple[str | None, str | None]]:
    """(cleansed value, rules that changed it) per value, as the pipeline records them."""
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    steps = steps_for(profile, pad)
    out = cleanse_text(frame.lazy(), [("v", "x", steps)]).with_columns(rules=rules_expr("x", steps)).collect()
    return list(zip(out["x"].to_list(), out["rules"].to_list()))


def test_kana_widens_half_width_including_voiced_marks():
    assert clean("kana", ["ﾔﾏﾀﾞ ﾀﾛｳ", "ｶﾞｷﾞｸﾞｹﾞｺﾞ ﾊﾟﾋﾟﾌﾟﾍﾟﾎﾟ ｳﾞｧ"]) == [
        ("ヤマダ\u3000タロウ", "widen_kana+kana_space"),
        ("ガギグゲゴ\u3000パピプペポ\u3000ヴァ", "widen_kana+kana_space"),
    ]


def test_kana_already_full_width_is_unchanged():
    assert clean("kana", ["ヤマダ\u3000タロウ"]) == [("ヤマダ\u3000タロウ", None)]


def test_half_width_kana_outside_kana_fields_is_left_alone():
    assert clean("text", ["ｻｸﾗﾊｲﾂ 101"]) == [("ｻｸﾗﾊｲﾂ 101", None)]
    assert clean("name", ["ﾔﾏﾀﾞ"]) == [("ﾔﾏﾀﾞ", None)]


def test_digits_narrow_only_digits():
    assert clean("digits", ["０１２３４５６７８９", " 0123 ", "１２－３"]) == [
        ("0123456789", "narrow_digits"), ("0123", "trim"), ("12－3", "narrow_digits")]


def test_code_narrows_full_width_letters_too():
    assert clean("code", ["Ｊ", "ｇ１"]) == [("J", "narrow_alnum"), ("g1", "narrow_alnum")]


@pytest.mark.parametrize("raw", ["991-0201", "９９１－０２０１", "〒991-0201", "991ー0201", "991−0201"])
def test_postal_codes(raw):
    assert clean("postal_code", [raw])[0][0] == "9910201"


def test_postal_code_that_is_not_one_is_not_forced():
    assert clean("postal_code", ["99-10201"])[0][0] == "99-10201"


def test_zero_padding_only_for_digits():
    assert clean("digits", ["12345", "ABC", "0001234567"], pad=10) == [
        ("0000012345", "zero_pad_10"), ("ABC", None), ("0001234567", None)]


def test_blank_becomes_null_with_the_rule_that_emptied_it():
    assert clean("text", ["\u3000 ", "", None]) == [(None, "trim"), (None, None), (None, None)]


@pytest.mark.parametrize("name", ["髙橋　一郎", "山﨑", "齋藤", "渡邉", "①", "㈱サクラ", "\uFA30", "葛\U000E0100", "ｶﾀｶﾅ"])
def test_registered_characters_survive(name):
    # no NFC/NFKC: compatibility ideographs, circled digits and IVS sequences stay as registered
    assert clean("name", [name]) == [(name, None)]


names = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)


@settings(max_examples=400, deadline=None)
@given(names)
def test_a_name_is_never_altered_beyond_its_edges(name):
    got, rules = clean("name", [name])[0]
    stripped = name.strip(EDGE_SPACES)
    assert got == (stripped or None)
    assert rules == (None if stripped == name else "trim")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ｱｲｳｴｵｶｷｸｹｺﾞﾟﾊﾋﾌﾍﾎ ヤマダ0１a", max_size=20))
def test_kana_rules_named_exactly_when_the_value_changed(value):
    got, rules = clean("kana", [value])[0]
    assert (rules is not None) == ((got or "") != value)


@pytest.mark.parametrize("raw, expected, rules", [
    ("１丁目３６－１", "1丁目36-1", "narrow_digits+digit_hyphens"),
    ("桜丘1ー2ー3", "桜丘1-2-3", "digit_hyphens"),   # 長音 between digits is a hyphen look-alike
    ("８－１０", "8-10", "narrow_digits+digit_hyphens"),
    ("コーポ桜　１０１号室", "コーポ桜　101号室", "narrow_digits"),  # ー between kana stays
    ("二丁目八番二十号", "二丁目八番二十号", None),  # 漢数字 and 丁目 stay as written in the landed value
    ("19番1号", "19番1号", None),
])
def test_address_profile(raw, expected, rules):
    assert clean("address", [raw]) == [(expected, rules)]


@pytest.mark.parametrize("raw, expected", [
    ("０３（１２３４）５６７８", "03-1234-5678"), ("(03)1234-5678", "03-1234-5678"), ("090ー1111ー2222", "090-1111-2222"),
    ("03-1234-5678", "03-1234-5678"), ("0312345678", "0312345678"), ("内線12", "内線12"),
])
def test_phone_profile(raw, expected):
    assert clean("phone", [raw])[0][0] == expected
