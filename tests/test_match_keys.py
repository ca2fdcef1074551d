"""Match keys for duplicate detection: variant characters, readings, addresses and phone numbers
fold to comparable keys, on real strings (Japan Post 事業所 addresses, the 国税庁 JIS縮退マップ),
while the landed values they are derived from stay exactly as registered."""

from __future__ import annotations

import csv

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikou.cleansing.match_keys import address_key, kana_key, name_key, phone_key, variant_folds

from .conftest import REALDATA, needs_realdata


def keys(fn, values):
    return pl.DataFrame({"v": values}, schema={"v": pl.String}).select(fn(pl.col("v")))["v"].to_list()


@pytest.mark.parametrize("a, b", [
    ("髙橋　花子", "高橋 花子"), ("齋藤一郎", "斉藤　一郎"), ("齊藤", "斎藤"), ("山﨑", "山崎"), ("濵田", "浜田"),
    ("濱田", "浜田"), ("渡邉", "渡辺"), ("渡邊", "渡辺"), ("德永", "徳永"), ("關", "関"), ("\ufa10本", "塚本"),
    ("葛\U000e0100西", "葛西"), ("𠮷田", "吉田"),
])
def test_variant_names_share_a_key(a, b):
    assert keys(name_key, [a]) == keys(name_key, [b])


@pytest.mark.parametrize("a, b", [("高橋", "髙田"), ("斉藤", "佐藤"), ("渡辺", "渡部"), ("山崎", "山口")])
def test_different_names_keep_different_keys(a, b):
    assert keys(name_key, [a]) != keys(name_key, [b])


def test_the_fold_table_is_a_function_onto_representatives():
    folds = variant_folds()
    assert len(folds) > 900
    # a representative is never itself folded (one step reaches the representative)
    assert not set(folds.values()) & set(folds)


@needs_realdata
def test_every_one_to_one_kanji_row_of_the_jis_shukutai_map_folds_together():
    path = REALDATA / "jis_shukutai_map" / "jissyukutaimap1_0_0.xslx.tsv"
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = [r for r in csv.reader(fh, delimiter="\t")][2:]
    pairs = [(chr(int(r[1][2:], 16)), chr(int(r[5][2:], 16))) for r in rows
             if len(r) > 5 and r[1].startswith("u+") and r[5].startswith("u+") and r[1] != r[5]
             and r[3] in ("JIS3水", "JIS4水")]
    assert len(pairs) == 851
    left, right = zip(*pairs)
    assert keys(name_key, list(left)) == keys(name_key, list(right))


@pytest.mark.parametrize("a, b", [
    ("ﾀｶﾊｼ ﾊﾅｺ", "タカハシ　ハナコ"), ("さいとう　いちろう", "サイトウイチロウ"), ("シヨウタ", "ショウタ"),
    ("ミヅキ", "ミズキ"), ("ヴァイオリン", "バイオリン"), ("ゔぃおら", "ビオラ"), ("ｻｲﾄｳ･ﾐｷ", "サイトウミキ"),
])
def test_readings_fold(a, b):
    assert keys(kana_key, [a]) == keys(kana_key, [b])


def test_readings_that_differ_stay_apart():
    assert len(set(keys(kana_key, ["サトウ", "サイトウ", "カトウ", "ガトウ"]))) == 4


@pytest.mark.parametrize("raw, key", [
    ("２丁目８番２０号", "2-8-20"), ("１９番１号", "19-1"), ("８－１０", "8-10"), ("１丁目３６－１", "1-36-1"),
    ("二丁目八番二十号", "2-8-20"), ("三十六番地の一", "36-1"), ("十番", "10"), ("桜丘1ー2ー3", "桜丘1-2-3"),
    ("百二十番", "120"), ("千二百三十四番地", "1234"), ("二千五番地", "2005"), ("三百番地の十", "300-10"),
    ("一二三四番地", "1234"), ("千番", "1000"), ("九千九百九十九", "9999"), ("千葉県千葉市1番", "1000葉県1000葉市1"),
])
def test_address_keys(raw, key):
    assert keys(address_key, [raw]) == [key]


def _kanji_number(n: int) -> str:
    digits = "〇一二三四五六七八九"
    tens, ones = divmod(n, 10)
    return (("" if tens == 1 else digits[tens]) + "十" if tens else "") + (digits[ones] if ones or not tens else "")


def _positional(n: int) -> str:
    """An oracle of its own for 1 … 9999: 千二百三十四, 二千五, 百十."""
    out = ""
    for unit, mark in ((1000, "千"), (100, "百"), (10, "十")):
        q, n = divmod(n, unit)
        out += ("" if q == 1 else "〇一二三四五六七八九"[q]) + mark if q else ""
    return out + ("〇一二三四五六七八九"[n] if n else "")


def test_every_number_to_9999_in_kanji_gets_its_digits():
    numbers = list(range(1, 10000))
    written = [f"{_positional(n)}番地" for n in numbers] + [f"本町{_positional(n)}番{_positional(n % 97 + 1)}号"
                                                           for n in numbers]
    want = [str(n) for n in numbers] + [f"本町{n}-{n % 97 + 1}" for n in numbers]
    assert keys(address_key, written) == want


@needs_realdata
def test_real_addresses_written_with_kanji_numerals_get_the_same_key():
    """Japan Post's 事業所 file writes 番地 as ２丁目８番２０号, ８－１０ …; the same address written
    with 漢数字 (二丁目八番二十号) must reach the same key."""
    import re
    path = REALDATA / "japanpost_kenall" / "JIGYOSYO_subset_pref03_pref26.CSV"
    with open(path, encoding="cp932", newline="") as fh:
        blocks = [r[6] for r in csv.reader(fh)]
    assert len(blocks) > 400
    arabic = [b for b in blocks if re.fullmatch("[０-９]{1,2}(丁目|番地?|号|－)([０-９]{1,2}(丁目|番地?|号|－))*"
                                                "([０-９]{1,2})?", b)]
    assert len(arabic) > 100

    def to_kanji(b: str) -> str:
        b = b.translate({0xFF10 + i: str(i) for i in range(10)})
        b = re.sub("[0-9]+", lambda m: _kanji_number(int(m.group())), b)
        return b.replace("－", "の")

    kanji = [to_kanji(b) for b in arabic]
    got, want = keys(address_key, kanji), keys(address_key, arabic)
    assert got == want
    assert all(re.fullmatch("[0-9]+(-[0-9]+)*", k) for k in want)


def test_phone_keys():
    assert keys(phone_key, ["０３（１２３４）５６７８", "03-1234-5678", "内線", None]) == [
        "0312345678", "0312345678", None, None]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list("髙高﨑崎齋斉渡邉辺塚\ufa10葛\U000e0100 \u3000山田花子ｻﾄｳ")),
                        max_size=8), min_size=1, max_size=20))
def test_keys_never_change_the_value_they_are_derived_from(names):
    frame = pl.DataFrame({"name": names}, schema={"name": pl.String})
    out = frame.with_columns(name_key(pl.col("name")).alias("k"), kana_key(pl.col("name")).alias("r"))
    assert out["name"].to_list() == names
