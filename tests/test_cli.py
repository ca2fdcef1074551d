"""The CLI through click's CliRunner: help for every command, and bad input answered with a clear
message and the documented exit code (0 ok, 1 over threshold, 2 bad input, 3 internal)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ikou.fixtures.generator import EXPORT_NAME, generate

from .conftest import copy_mapping, run_cli, write_export


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny")
    generate(out, residents=300, seed=3, defects=False)  # a clean export may be small
    return out


def test_help_documents_every_command_and_exit_codes():
    top = run_cli("--help")
    assert top.exit_code == 0
    for word in ("migrate", "layouts", "fixtures", "Exit codes", "--debug"):
        assert word in top.output
    mig = run_cli("migrate", "--help").output
    for option in ("--mapping", "--input", "--out", "--dry-run", "--json", "--chunk-mb"):
        assert option in mig
    assert "--residents" in run_cli("fixtures", "generate", "--help").output
    assert run_cli("layouts", "show", "--help").exit_code == 0


def test_layouts_show_prints_japanese_names_and_levels():
    result = run_cli("layouts", "show", "resident")
    assert result.exit_code == 0
    for fragment in ("氏名", "住民票コード", "check digit resident_code", "sensitive", "alert", "世帯主"):
        assert fragment in result.output
    assert '"name_ja": "氏名"' in run_cli("layouts", "show", "resident", "--json").output
    assert "resident" in run_cli("layouts", "list").output


def test_unknown_layout():
    result = run_cli("layouts", "show", "nope")
    assert result.exit_code == 2 and "unknown layout 'nope'" in result.output


def test_clean_export_exits_zero(exact_mapping, tiny_export, tmp_path):
    result = run_cli("migrate", "--mapping", exact_mapping, "--input", tiny_export, "--out", tmp_path / "o")
    assert result.exit_code == 0, result.output
    assert "exit code 0" in result.output and "landed in" in result.output


def test_rejects_over_threshold_exit_one_but_land(exact_mapping, tmp_path):
    export = tmp_path / "in"
    generate(export, residents=1000, seed=5)
    result = run_cli("migrate", "--mapping", exact_mapping, "--input", export, "--out", tmp_path / "o")
    assert result.exit_code == 1 and "OVER THRESHOLD" in result.output
    assert (tmp_path / "o" / "ikou.duckdb").exists()


def _assert_bad_input(result, *fragments):
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ")
    for f in fragments:
        assert f in result.output, (f, result.output)


def test_wrong_encoding_declared(tiny_export, tmp_path):
    export = tmp_path / "in"
    shutil.copytree(tiny_export, export)
    mapping = copy_mapping(tmp_path, **{"encoding: cp932": "encoding: utf-8"})
    result = run_cli("migrate", "--mapping", mapping, "--input", export, "--out", tmp_path / "o")
    _assert_bad_input(result, "not valid utf-8", "set encoding: cp932")
    assert not (tmp_path / "o").exists()


def test_utf8_file_declared_cp932(exact_mapping, tiny_export, tmp_path):
    export = tmp_path / "in"
    export.mkdir()
    text = (tiny_export / EXPORT_NAME).read_bytes().decode("cp932")
    (export / EXPORT_NAME).write_bytes(text.encode("utf-8"))
    result = run_cli("migrate", "--mapping", exact_mapping, "--input", export, "--out", tmp_path / "o")
    _assert_bad_input(result, "utf-8")
    assert not (tmp_path / "o" / "ikou.duckdb").exists()


def test_missing_columns_are_all_listed(exact_mapping, tiny_export, tmp_path):
    export = tmp_path / "in"
    export.mkdir()
    text = (tiny_export / EXPORT_NAME).read_bytes().decode("cp932")
    text = text.replace(",氏名,", ",名前,", 1).replace(",性別,", ",せいべつ,", 1)
    (export / EXPORT_NAME).write_bytes(text.encode("cp932"))
    result = run_cli("migrate", "--mapping", exact_mapping, "--input", export, "--out", tmp_path / "o")
    # the renamed columns are missing for their items, and unaccounted for themselves (with samples)
    _assert_bad_input(result, "missing column '氏名' for item name (氏名) — a required item",
                      "missing column '性別'", "4 problem(s)", "nothing was written",
                      "column '名前' is neither mapped nor listed under unmapped_columns (values such as '",
                      "column 'せいべつ' is neither mapped")
    assert not (tmp_path / "o" / "ikou.duckdb").exists()


def test_malformed_mapping(tiny_export, tmp_path):
    mapping = copy_mapping(tmp_path, **{"    table: resident": "    table: residents", "skip_rows: 2": "skip_rows: two"})
    result = run_cli("migrate", "--mapping", mapping, "--input", tiny_export, "--out", tmp_path / "o")
    _assert_bad_input(result, "'residents' is not a table", "did you mean 'resident'",
                      "skip_rows: input should be a valid integer (got 'two')", "docs/mapping.md")


def test_mapping_file_missing(tmp_path):
    result = run_cli("migrate", "--mapping", tmp_path / "none.yaml", "--input", tmp_path, "--out", tmp_path / "o")
    _assert_bad_input(result, "does not exist")


def test_no_file_matches(exact_mapping, tmp_path):
    (tmp_path / "in").mkdir()
    result = run_cli("migrate", "--mapping", exact_mapping, "--input", tmp_path / "in", "--out", tmp_path / "o")
    _assert_bad_input(result, "no file in", "JUMIN_*.csv")


def test_empty_file(exact_mapping, tmp_path):
    write_export(tmp_path / "in", EXPORT_NAME, "")
    result = run_cli("migrate", "--mapping", exact_mapping, "--input", tmp_path / "in", "--out", tmp_path / "o")
    _assert_bad_input(result, "empty")


def test_header_only_file_lands_nothing_and_reconciles(exact_mapping, tiny_export, tmp_path):
    text = (tiny_export / EXPORT_NAME).read_bytes().decode("cp932")
    write_export(tmp_path / "in", EXPORT_NAME, "".join(text.splitlines(True)[:3]))
    result = run_cli("migrate", "--mapping", exact_mapping, "--input", tmp_path / "in", "--out", tmp_path / "o")
    assert result.exit_code == 0 and "reconciled" in result.output


def test_truncated_last_line_is_a_reject(exact_mapping, tiny_export, tmp_path):
    data = (tiny_export / EXPORT_NAME).read_bytes()
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / EXPORT_NAME).write_bytes(data[: len(data) - 40])  # cut inside the last record
    result = run_cli("migrate", "--mapping", exact_mapping, "--input", tmp_path / "in", "--out", tmp_path / "o",
                     "--json")
    assert result.exit_code == 0
    assert '"field_count": 1' in result.output or '"unterminated_quote": 1' in result.output


def test_out_is_required_unless_dry_run(exact_mapping, tiny_export):
    _assert_bad_input(run_cli("migrate", "--mapping", exact_mapping, "--input", tiny_export), "--out is required")


def test_internal_errors_exit_three_and_debug_reraises(exact_mapping, tiny_export, tmp_path):
    def boom(point, value):
        if point == "assembled":
            raise RuntimeError("unexpected")
        return value

    result = run_cli("migrate", "--mapping", exact_mapping, "--input", tiny_export, "--out", tmp_path / "o", fault=boom)
    assert result.exit_code == 3 and "internal error: RuntimeError: unexpected" in result.output
    # --debug shows the traceback and keeps the documented exit code
    result = run_cli("--debug", "migrate", "--mapping", exact_mapping, "--input", tiny_export, "--out", tmp_path / "o",
                     fault=boom)
    assert result.exit_code == 3 and "Traceback" in result.output and "RuntimeError: unexpected" in result.output
    assert not (tmp_path / "o" / "ikou.duckdb").exists()


def test_debug_keeps_the_exit_code_of_bad_input(tmp_path):
    """--debug once turned bad input (exit 2) into an uncaught exception (exit 1: 'over a threshold')."""
    result = run_cli("--debug", "migrate", "--mapping", tmp_path / "none.yaml", "--input", tmp_path, "--out",
                     tmp_path / "o")
    assert result.exit_code == 2 and "error:" in result.output


def test_fail_policy_stops_before_anything_is_written(tmp_path):
    export = tmp_path / "in"
    generate(export, residents=1000, seed=5)
    mapping = copy_mapping(tmp_path, **{"  vendor_relationship:\n    standard: relationship\n    unmapped: reject":
                                        "  vendor_relationship:\n    standard: relationship\n    unmapped: fail"})
    result = run_cli("migrate", "--mapping", mapping, "--input", export, "--out", tmp_path / "o")
    _assert_bad_input(result, "legacy code '77' is not mapped", "unmapped: fail")
    assert not (tmp_path / "o" / "ikou.duckdb").exists()


def test_a_mapped_column_appearing_twice_in_the_header_is_ambiguous(exact_mapping, tiny_export, tmp_path):
    text = (tiny_export / EXPORT_NAME).read_bytes().decode("cp932")
    text = text.replace(",外国人ローマ字氏名,", ",氏名,", 1)  # a second 氏名 column
    write_export(tmp_path / "in", EXPORT_NAME, text)
    result = run_cli("migrate", "--mapping", exact_mapping, "--input", tmp_path / "in", "--out", tmp_path / "o")
    _assert_bad_input(result, "column '氏名' (item name) appears more than once")


def test_records_of_another_municipality_are_rejected(tiny_export, tmp_path):
    # 市区町村コード taken from a column holding another (valid) municipality's code
    text = (tiny_export / EXPORT_NAME).read_bytes().decode("cp932")
    write_export(tmp_path / "in", EXPORT_NAME, text)
    mapping = copy_mapping(tmp_path, **{'municipality_code: {value: "991015"}': "municipality_code: 転入前市区町村コード"})
    result = run_cli("migrate", "--mapping", mapping, "--input", tmp_path / "in", "--out", tmp_path / "o", "--json")
    assert result.exit_code == 1
    assert '"wrong_municipality"' in result.output
