"""The XML extractor: namespaces, attributes, nested paths, streaming, and hardening against
entity expansion, external entities and malformed files."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from ikou.errors import IkouError
from ikou.extract.xml_file import XmlExtractor
from ikou.mapping import Source, XmlLayout

from .conftest import query, run_cli

NS = {"j": "urn:example:jumin"}
LAYOUT = XmlLayout(record="j:住民一覧/j:住民", namespaces=NS,
                   fields={"宛名番号": "@宛名番号", "氏名": "j:氏名/j:漢字", "カナ": "j:氏名/j:カナ",
                           "生年月日": "j:生年月日", "町字コード": "j:住所/@町字コード"})

DOC = """<?xml version="1.0" encoding="UTF-8"?>
<j:住民一覧 xmlns:j="urn:example:jumin" 作成日="2026-11-01">
  <j:住民 宛名番号="0000012345">
    <j:氏名><j:漢字>山田　太郎</j:漢字><j:カナ>ﾔﾏﾀﾞ ﾀﾛｳ</j:カナ></j:氏名>
    <j:生年月日>昭和60年2月14日</j:生年月日>
    <j:住所 町字コード="0001001">桜ヶ丘一丁目</j:住所>
  </j:住民>
  <!-- a comment between records -->
  <j:住民 宛名番号="0000012346">
    <j:氏名><j:漢字>髙橋　花子</j:漢字></j:氏名>
    <j:生年月日>H2.3.4</j:生年月日>
  </j:住民>
</j:住民一覧>
"""


def extract(tmp_path: Path, text: str, layout: XmlLayout = LAYOUT, encoding: str = "utf-8"):
    path = tmp_path / "x.xml"
    path.write_bytes(text.encode(encoding))
    ex = XmlExtractor(path, path.name, Source(name="s", table="resident", files="*", format="xml", xml=layout), 0)
    ex.read_header()
    chunks = list(ex.chunks())
    return ex, pl.concat([c.frame for c in chunks]), pl.concat([c.rejects for c in chunks])


def test_records_namespaces_attributes_and_nesting(tmp_path):
    ex, frame, rejects = extract(tmp_path, DOC)
    assert rejects.height == 0 and ex.stats.records == 2
    assert frame.select("宛名番号", "氏名", "カナ", "生年月日", "町字コード").rows() == [
        ("0000012345", "山田　太郎", "ﾔﾏﾀﾞ ﾀﾛｳ", "昭和60年2月14日", "0001001"),
        ("0000012346", "髙橋　花子", None, "H2.3.4", None)]
    assert frame["_line"].to_list() == [3, 9]
    assert frame["_raw"][0].decode().startswith("<j:住民") and "山田" in frame["_raw"][0].decode()


def test_shift_jis_declared_xml(tmp_path):
    doc = DOC.replace('encoding="UTF-8"', 'encoding="Shift_JIS"').replace("髙橋", "高橋")
    _, frame, _ = extract(tmp_path, doc, encoding="shift_jis")
    assert frame["氏名"].to_list() == ["山田　太郎", "高橋　花子"]


def test_an_ambiguous_field_rejects_the_record(tmp_path):
    doc = DOC.replace("<j:生年月日>H2.3.4</j:生年月日>", "<j:生年月日>H2.3.4</j:生年月日><j:生年月日>H2.3.5</j:生年月日>")
    ex, frame, rejects = extract(tmp_path, doc)
    assert frame["宛名番号"].to_list() == ["0000012345"]
    r = rejects.row(0, named=True)
    assert (r["reason_code"], r["item"], r["_line"]) == ("ambiguous_field", "生年月日", 9)
    assert b"H2.3.5" in r["raw_bytes"] and ex.stats.records == 2


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<j:住民一覧 xmlns:j="urn:example:jumin"><j:住民 宛名番号="&lol3;"/></j:住民一覧>
"""
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd"><!ENTITY web SYSTEM "http://example.invalid/x">]>
<j:住民一覧 xmlns:j="urn:example:jumin"><j:住民 宛名番号="&secret;&web;"/></j:住民一覧>
"""


@pytest.mark.parametrize("doc", [BILLION_LAUGHS, EXTERNAL], ids=["billion_laughs", "external_entity"])
def test_doctypes_and_entities_are_refused(tmp_path, doc):
    with pytest.raises(IkouError, match="DOCTYPE") as exc:
        extract(tmp_path, doc)
    assert "entity" in exc.value.hint


def test_a_doctype_hidden_after_a_long_comment_is_refused_unexpanded(tmp_path):
    doc = BILLION_LAUGHS.replace('<?xml version="1.0"?>', '<?xml version="1.0"?><!--' + "x" * 70_000 + "-->")
    with pytest.raises(IkouError, match="DOCTYPE"):
        extract(tmp_path, doc)


def test_malformed_xml_names_line_and_column(tmp_path):
    with pytest.raises(IkouError, match=r"malformed XML at line 7, column \d+: .*生年月日 line 5"):
        extract(tmp_path, DOC.replace("</j:生年月日>\n    <j:住所", "\n    <j:住所", 1))


def test_xml_export_migrates_with_raw_records_in_rejects(tmp_path):
    (tmp_path / "in").mkdir()
    doc = DOC.replace("昭和60年2月14日", "S6O.O2.14")  # an invalid date: rejected downstream, by the row stages
    (tmp_path / "in" / "jumin.xml").write_text(doc, encoding="utf-8")
    mapping = tmp_path / "m.yaml"
    mapping.write_text("""\
municipality: {code: "991015"}
layout: resident
sources:
  - name: xml
    table: resident
    files: "*.xml"
    format: xml
    record: "j:住民一覧/j:住民"
    namespaces: {j: "urn:example:jumin"}
    fields:
      宛名番号: "@宛名番号"
      氏名: "j:氏名/j:漢字"
      カナ: "j:氏名/j:カナ"
      生年月日: "j:生年月日"
    items:
      municipality_code: {value: "991015"}
      atena_number: 宛名番号
      history_number: {value: "1"}
      household_number: {value: "0005000017"}
      resident_type: {value: "1"}
      resident_status: {value: "1"}
      name: 氏名
      name_kana: カナ
      sex: {value: "1"}
      birth_date: 生年月日
      relationship_code: {value: "02"}
      change_reason_code: {value: "01"}
      change_date: {value: "R5.1.1"}
""", encoding="utf-8")
    out = tmp_path / "out"
    result = run_cli("migrate", "--mapping", mapping, "--input", tmp_path / "in", "--out", out, "--json")
    summary = json.loads(result.output)
    assert summary["totals"] == {"source_records": 2, "landed": 1, "rejected": 1, "merged": 0, "excluded": 0}
    reject = query(out, "select reason_code, raw_record, source_line from rejects").row(0)
    assert reject[0] == "invalid_date" and "S6O.O2.14" in reject[1] and reject[1].startswith("<j:住民")
    assert reject[2] == 3
    assert query(out, "select name_kana from resident")["name_kana"][0] is None


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

fragments = st.sampled_from(['<?xml version="1.0" encoding="UTF-8"?>', '<?xml version="1.0" encoding="nope"?>',
                             '<j:住民一覧 xmlns:j="urn:example:jumin">', "</j:住民一覧>", '<j:住民 宛名番号="1">',
                             "</j:住民>", "<j:氏名><j:漢字>", "</j:漢字></j:氏名>", "&amp;", "&bogus;", "<!--", "-->",
                             "<![CDATA[x]]>", "\x00", "山田", "<", ">"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=200), st.lists(fragments, max_size=12).map(lambda p: "".join(p).encode())))
def test_arbitrary_bytes_give_records_or_a_file_level_error(tmp_path, data):
    path = tmp_path / "x.xml"
    path.write_bytes(data)
    ex = XmlExtractor(path, path.name, Source(name="s", table="resident", files="*", format="xml", xml=LAYOUT), 0)
    try:
        ex.read_header()
        chunks = list(ex.chunks())
    except IkouError:
        return  # reported: file, line, what to do; nothing written
    assert sum(c.frame.height + c.rejects.height for c in chunks) == ex.stats.records
