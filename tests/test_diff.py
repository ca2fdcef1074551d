"""ikou diff: planted differences of every kind are found, exactly, whatever the input format."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from tests.conftest import ROOT, run_cli

N = 400


def base() -> pl.DataFrame:
    k = pl.int_range(0, N, eager=True)
    return pl.DataFrame({
        "宛名番号": k.map_elements(lambda i: f"{i:010d}", return_dtype=pl.String),
        "氏名": k.map_elements(lambda i: ["髙橋\u3000花子", "渡邉\u3000一郎", "山田\u3000太郎"][i % 3] + str(i),
                              return_dtype=pl.String),
        "氏名カナ": k.map_elements(lambda i: ["タカハシ\u3000ハナコ", "ワタナベ\u3000イチロウ"][i % 2], return_dtype=pl.String),
        "生年月日": k.map_elements(lambda i: f"昭和{40 + i % 20}年{1 + i % 12}月{1 + i % 28}日", return_dtype=pl.String),
        "金額": k.map_elements(lambda i: f"{1000 + i}.50", return_dtype=pl.String),
        "個人番号": k.map_elements(lambda i: f"{123456780000 + i}", return_dtype=pl.String),
    })


def write_csv(frame: pl.DataFrame, path: Path, encoding: str) -> Path:
    path.write_bytes(frame.write_csv().encode(encoding))
    return path


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Left: the old system (CP932). Right (UTF-8): every kind of difference, each at known keys."""
    d = tmp_path_factory.mktemp("diff")
    left = base()
    # a duplicate key on the left (two different rows) and one on the right
    left = pl.concat([left, left.filter(pl.col("宛名番号") == "0000000010").with_columns(氏名=pl.lit("別人"))])
    right = base().filter(~pl.col("宛名番号").is_in(["0000000003", "0000000004", "0000000005"]))  # only left
    right = pl.concat([right, pl.DataFrame({"宛名番号": ["0000009001", "0000009002"], "氏名": ["新規", "新規"],
                                            "氏名カナ": ["シンキ", "シンキ"], "生年月日": ["平成1年1月8日"] * 2,
                                            "金額": ["1", "2"], "個人番号": [None, None]})])  # only right
    right = pl.concat([right, right.filter(pl.col("宛名番号") == "0000000020")])  # duplicate on the right
    changes = {
        "0000000030": {"氏名": "髙橋\u3000花子X"},  # a changed name: differs under every rule
        "0000000031": {"金額": "1031.51"},  # 0.01 apart: equal within 0.01 (the tolerance edge)
        "0000000032": {"金額": "1032.52"},  # 0.02 apart: differs
        "0000000033": {"氏名カナ": "ﾜﾀﾅﾍﾞ ｲﾁﾛｳ"},  # half-width kana: equal under the text rule
        "0000000034": {"生年月日": "S54.11.7"},  # 昭和54年11月7日 written another way: equal as a date
        "0000000035": {"生年月日": "昭和55年12月9日"},  # 昭和55年12月8日 a day later: differs
    }
    for key, values in changes.items():
        right = right.with_columns(**{c: pl.when(pl.col("宛名番号") == key).then(pl.lit(v)).otherwise(pl.col(c))
                                      for c, v in values.items()})
    return d, write_csv(left, d / "old.csv", "cp932"), write_csv(right, d / "new.csv", "utf-8")


def diff(*args) -> tuple[int, dict]:
    result = run_cli("diff", *args, "--json")
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.output)


def keys_of(db: Path, table: str) -> list[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return sorted(r[0] for r in con.execute(f'select "宛名番号" from {table}').fetchall())
    finally:
        con.close()


def test_every_planted_difference_and_nothing_else(planted):
    d, old, new = planted
    out = d / "out"
    code, s = diff("--left", old, "--right", new, "--key", "宛名番号", "--tolerance", "金額=0.01", "--text", "氏名カナ",
                   "--date", "生年月日", "--out", out)
    assert code == 1 and not s["equal"]
    assert (s["left_rows"], s["right_rows"]) == (N + 1, N - 3 + 2 + 1)
    assert (s["only_left"], s["only_right"], s["differing"]) == (3, 2, 3)
    assert s["duplicate_keys"] == {"left": 1, "right": 1} and s["duplicate_rows"] == {"left": 3, "right": 3}
    assert s["matched"] == N - 3 - 2  # every key on both sides once, the two duplicated keys aside
    db = out / "diff.duckdb"
    assert keys_of(db, "diff_only_left") == ["0000000003", "0000000004", "0000000005"]
    assert keys_of(db, "diff_only_right") == ["0000009001", "0000009002"]
    assert keys_of(db, "diff_differing") == ["0000000030", "0000000032", "0000000035"]
    assert keys_of(db, "diff_duplicate_keys") == ["0000000010", "0000000020"]
    per_column = {c["column"]: c["differing"] for c in s["columns"]}
    assert per_column == {"氏名": 1, "氏名カナ": 0, "生年月日": 1, "金額": 1, "個人番号": 0}
    assert {c["column"]: c["rule"] for c in s["columns"]}["金額"] == "numeric ±0.01"
    assert (out / "diff.json").exists() and (out / "diff.html").exists()


def test_without_rules_width_and_date_forms_and_cents_differ(planted):
    d, old, new = planted
    _, s = diff("--left", old, "--right", new, "--key", "宛名番号")
    per_column = {c["column"]: c["differing"] for c in s["columns"]}
    assert per_column == {"氏名": 1, "氏名カナ": 1, "生年月日": 2, "金額": 2, "個人番号": 0}
    assert s["differing"] == 6


def test_the_same_data_in_cp932_and_utf8_is_equal(tmp_path):
    frame = base()
    code, s = diff("--left", write_csv(frame, tmp_path / "a.csv", "cp932"), "--right",
                   write_csv(frame, tmp_path / "b.csv", "utf-8-sig"), "--key", "宛名番号")
    assert code == 0 and s["equal"] and s["matched"] == N and s["differing"] == 0


def test_parquet_against_a_duckdb_table_with_renamed_columns(tmp_path):
    frame = base()
    frame.write_parquet(tmp_path / "old.parquet")
    con = duckdb.connect(str(tmp_path / "new.duckdb"))
    renamed = frame.rename({"宛名番号": "atena_number", "氏名": "name"})  # noqa: F841 - read by DuckDB below
    con.execute("create table resident as select * from renamed")
    con.close()
    code, s = diff("--left", tmp_path / "old.parquet", "--right", tmp_path / "new.duckdb", "--right-table",
                   "resident", "--key", "宛名番号", "--map", "宛名番号=atena_number", "--map", "氏名=name")
    assert code == 0 and s["matched"] == N
    assert {c["column"]: c["right_column"] for c in s["columns"]}["氏名"] == "name"


def test_a_rules_file(planted, tmp_path):
    d, old, new = planted
    rules = tmp_path / "rules.yaml"
    rules.write_text("key: [宛名番号]\nrules:\n  金額: {numeric: 0.01}\n  氏名カナ: text\n  生年月日: date\n"
                     "ignore: [氏名]\n", encoding="utf-8")
    _, s = diff("--left", old, "--right", new, "--rules", rules)
    assert s["differing"] == 2 and "氏名" not in {c["column"] for c in s["columns"]}


def test_fixed_width_through_a_mapping(tmp_path):
    """The same fixed-width export twice through its mapping; one changed byte is one difference."""
    from ikou.fixtures.vendors import generate_fixed

    export = generate_fixed(tmp_path / "a", residents=1000, seed=3, defects=False)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    changed = tmp_path / "b" / export.path.name
    data = bytearray(changed.read_bytes())
    record = export.record_length if hasattr(export, "record_length") else None
    # flip one digit of the 10th record's first field (宛名番号)
    nl = [i for i, b in enumerate(data) if b == 0x0A]
    start = nl[9] + 1 if record is None else 10 * record
    digits = [i for i in range(start, start + 20) if 0x30 <= data[i] <= 0x39]
    data[digits[-1]] = 0x30 + (data[digits[-1]] - 0x30 + 1) % 10
    changed.write_bytes(bytes(data))
    mapping = ROOT / "mappings" / "midori_991023.yaml"
    code, s = diff("--left", tmp_path / "a", "--left-mapping", mapping, "--right", tmp_path / "b", "--right-mapping",
                   mapping, "--key", "source_line")
    assert code == 1 and s["differing"] == 1 and s["only_left"] == s["only_right"] == 0
    assert sum(c["differing"] for c in s["columns"]) == 1


def test_personal_numbers_are_masked_in_samples(planted):
    d, old, new = planted
    _, s = diff("--left", old, "--right", new, "--key", "宛名番号")
    text = json.dumps(s["samples"], ensure_ascii=False)
    assert "123456780003" not in text and "********0003" in text


@pytest.mark.parametrize("args, fragment", [
    (["--key", "nothing"], "key column 'nothing' is not in the left data"),
    (["--key", "宛名番号", "--map", "氏名=namae"], "'namae' is not a right column"),
    (["--key", "宛名番号", "--tolerance", "金額=abc"], "'abc' is not a number"),
    (["--key", "宛名番号", "--right-encoding", "utf-8"], "not valid utf-8"),
])
def test_bad_input_is_exit_2_with_the_problem(planted, args, fragment):
    d, old, new = planted
    result = run_cli("diff", "--left", old, "--right", old if "--right-encoding" in args else new, *args)
    assert result.exit_code == 2, result.output
    assert fragment in result.output


def test_empty_keys_match_nothing_and_are_no_duplicates(tmp_path):
    left = pl.DataFrame({"k": ["1", None, None], "v": ["a", "b", "c"]})
    right = pl.DataFrame({"k": ["1", None], "v": ["a", "b"]})
    code, s = diff("--left", write_csv(left, tmp_path / "l.csv", "utf-8"), "--right",
                   write_csv(right, tmp_path / "r.csv", "utf-8"), "--key", "k")
    assert code == 1 and s["duplicate_keys"] == {"left": 0, "right": 0}
    assert (s["matched"], s["only_left"], s["only_right"]) == (1, 2, 1)


def test_missing_file_is_exit_2(tmp_path):
    result = run_cli("diff", "--left", tmp_path / "no.csv", "--right", tmp_path / "no.csv", "--key", "k")
    assert result.exit_code == 2 and "does not exist" in result.output


def test_the_text_shows_an_empty_value_as_empty_never_as_python_none(tmp_path):
    left, right = tmp_path / "l.csv", tmp_path / "r.csv"
    left.write_text("k,v,w\r\n1,a,\r\n2,b,x\r\n", encoding="utf-8")
    right.write_text("k,v,w\r\n1,,\r\n2,c ,x\r\n3,d,\r\n", encoding="utf-8")
    result = run_cli("diff", "--left", left, "--right", right, "--key", "k")
    assert result.exit_code == 1 and "None" not in result.output and "null" not in result.output
    assert re.search(r"v_right=(,|$)", result.output, re.M) and "v_right='c '" in result.output
    assert re.search(r"\bw=(,|$)", result.output, re.M)


def test_the_html_marks_the_cells_that_differ(tmp_path):
    """Differing rows show the key and only the columns that differ somewhere, 旧 beside 新, the
    differing cells marked and the equal ones not."""
    import lxml.html

    left, right = tmp_path / "l.csv", tmp_path / "r.csv"
    left.write_text("k,a,b,c\r\n1,x,y,z\r\n2,x,y,z\r\n", encoding="utf-8")
    right.write_text("k,a,b,c\r\n1,x,Y,z\r\n2,X,y,z\r\n", encoding="utf-8")
    assert run_cli("diff", "--left", left, "--right", right, "--key", "k", "--out", tmp_path / "d").exit_code == 1
    doc = lxml.html.fromstring((tmp_path / "d" / "diff.html").read_text(encoding="utf-8"))
    (table,) = doc.xpath("//table[@class='diff']")
    assert [th.text_content() for th in table.xpath("thead/tr[1]/th")] == ["k", "a", "b"]  # c never differs
    rows = [[(td.text_content(), td.get("class")) for td in tr.xpath("td")] for tr in table.xpath("tbody/tr")]
    assert rows == [[("1", None), ("x", "same"), ("x", "same"), ("y", "d"), ("Y", "d")],
                    [("2", None), ("x", "d"), ("X", "d"), ("y", "same"), ("y", "same")]]
