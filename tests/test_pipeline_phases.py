"""The run's phases and their hand-offs: per-chunk results folded in file and chunk order, the
staged package's manifest, the extract → resolve hand-off counted, and the diff through a mapping
comparing only the export's own fields. Each case failed on the code before the restructuring
(first-seen pairing, the XML ``_raw`` column) or guards what it added (the manifest)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from ikou.errors import IkouError
from ikou.fixtures.generator import EXPORT_NAME, generate
from ikou.pipeline.run import migrate
from ikou.pipeline.state import MANIFEST, RunOptions

from .conftest import ROOT, copy_mapping, query, run_cli


@pytest.fixture(scope="module")
def two_files(tmp_path_factory):
    """The fixture export cut into two files; one legacy 住民状態 code 'Z9' is planted in the last
    record of the first file and in the first record of the second."""
    d = tmp_path_factory.mktemp("two")
    generate(d / "gen", residents=3000, seed=4, defects=False)
    text = (d / "gen" / EXPORT_NAME).read_bytes().decode("cp932")
    lines = text.splitlines(keepends=True)
    meta, header, records = lines[:2], lines[2], lines[3:]
    half = len(records) // 2
    column = next(csv.reader([header])).index("住民状態")

    def plant(line: str) -> str:
        row = next(csv.reader([line]))
        row[column] = "Z9"
        out = io.StringIO()
        csv.writer(out, lineterminator=line[len(line.rstrip("\r\n")):]).writerow(row)
        return out.getvalue()

    first, second = records[:half], records[half:]
    first[-1], second[0] = plant(first[-1]), plant(second[0])
    (d / "in").mkdir()
    (d / "in" / "JUMIN_a.csv").write_bytes("".join(meta + [header] + first).encode("cp932"))
    (d / "in" / "JUMIN_b.csv").write_bytes("".join(meta + [header] + second).encode("cp932"))
    mapping = copy_mapping(d, **{"max_reject_rate: 0.02": "max_reject_rate: 1"})
    return d, mapping, 3 + len(first)  # the line of the planted record in JUMIN_a.csv


def test_first_seen_pairs_one_records_file_and_line(two_files, tmp_path):
    """Workers finish chunks in any order; the first place a code was seen is one record's
    (file, line): the earliest file, then its earliest line (not one file with another's line)."""
    d, mapping, line_in_a = two_files
    out = tmp_path / "out"
    # small chunks: many of them, finished by two workers in whatever order
    migrate(RunOptions(mapping=mapping, input_dir=d / "in", out=out, chunk_bytes=64 * 1024))
    row = query(out, "select first_file, first_line, records from code_coverage where legacy_code = 'Z9'").row(0)
    assert row == ("JUMIN_a.csv", line_in_a, 2)


def test_the_staged_package_has_a_manifest(two_files, tmp_path):
    d, mapping, _ = two_files
    seen = {}

    def keep_manifest(point, value):
        if point == "assembled":  # the staged package, before reconcile
            seen.update(json.loads((value.parent / MANIFEST).read_text(encoding="utf-8")))
        return value

    summary = migrate(RunOptions(mapping=mapping, input_dir=d / "in", out=None, dry_run=True,
                                 chunk_bytes=64 * 1024, fault=keep_manifest))
    assert seen["state"] == "assembled" and seen["run_id"] == summary.run_id
    assert seen["hashes"]["mapping"] == summary.mapping_sha256 and seen["hashes"]["layout"] == summary.layout_sha256
    assert [f["path"] for f in seen["files"]] == ["JUMIN_a.csv", "JUMIN_b.csv"]
    for f, fc in zip(seen["files"], summary.files):
        assert f["source_records"] == f["staged_records"] == fc.source_records
        assert len(f["chunks"]) > 1 and [c["part"] for c in f["chunks"]] == sorted(c["part"] for c in f["chunks"])


def test_records_lost_between_extract_and_the_stages_make_the_run_unreconciled(two_files, tmp_path):
    d, mapping, _ = two_files

    def lose_a_record(point, value):
        return value.slice(1) if point == "staged" and value.height > 100 else value

    with pytest.raises(IkouError) as exc:
        migrate(RunOptions(mapping=mapping, input_dir=d / "in", out=tmp_path / "out", fault=lose_a_record))
    assert any("were staged" in p for p in exc.value.problems)
    assert not (tmp_path / "out" / "ikou.duckdb").exists()


def test_a_diff_through_an_xml_mapping_compares_only_the_exports_fields(tmp_path):
    """The XML extractor carries each record's raw form in _raw; a diff once compared it as data."""
    from ikou.fixtures.vendors import generate_xml

    generate_xml(tmp_path / "a", residents=300, seed=5, defects=False)
    generate_xml(tmp_path / "b", residents=300, seed=5, defects=False)
    mapping = ROOT / "mappings" / "wakaba_991031.yaml"
    result = run_cli("diff", "--left", tmp_path / "a", "--left-mapping", mapping, "--right", tmp_path / "b",
                     "--right-mapping", mapping, "--key", "source_line", "--json")
    s = json.loads(result.output)
    assert result.exit_code == 0 and s["differing"] == 0
    compared = {c["column"] for c in s["columns"]}
    assert compared and not {c for c in compared if c.startswith("_")}
