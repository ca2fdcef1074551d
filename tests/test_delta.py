"""A delta run (差分移行, `ikou migrate --delta-from RUN`) and its hand-over (`ikou export --delta`).

The export a month later comes from the fixture generator's ageing (ikou/fixtures/ageing.py),
which writes what it changed (expected_delta.csv); the delta is also checked against the two
exports read with Python's csv module, and the hand-over files are applied to the earlier
hand-over with the csv module: the result must be the later run's full hand-over."""

from __future__ import annotations

import csv
import io
import json
import shutil

import pytest

from ikou.fixtures.ageing import generate_later
from ikou.fixtures.generator import generate
from tests.conftest import MAPPING, query, run_cli

KEY = ("atena_number", "history_number", "history_branch_number")


@pytest.fixture(scope="module")
def months(tmp_path_factory):
    d = tmp_path_factory.mktemp("delta")
    generate(d / "nov", residents=3000)
    generate_later(d / "dec", 1, residents=3000)
    out = d / "out"
    first = run_cli("migrate", "--mapping", MAPPING, "--input", d / "nov", "--out", out, "--json")
    assert first.exit_code == 0, first.output
    base = json.loads(first.output)["run_id"]
    assert run_cli("export", out, "--to", d / "handover_nov").exit_code == 0
    second = run_cli("migrate", "--mapping", MAPPING, "--input", d / "dec", "--out", out, "--json",
                     "--delta-from", base)
    assert second.exit_code == 0, second.output
    for args in (("--to", d / "handover_dec"), ("--to", d / "delta_dec", "--delta")):
        result = run_cli("export", out, *args)
        assert result.exit_code == 0, result.output
    return d, base, json.loads(second.output)


def _csv(path):
    """(header, rows) of a CSV file, with Python's csv module."""
    with path.open(encoding="utf-8", newline="") as fh:  # a line break inside a quoted value stays CRLF
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def _keyed(folder, name):
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    f = next(f for f in manifest["files"] if f["path"] == name)
    header, rows = _csv(folder / name)
    at = [f["items"].index(k) for k in KEY]
    return header, {tuple(r[i] for i in at): r for r in rows}


def _delta_rows(d) -> dict[tuple[str, str, str], tuple[str, str | None]]:
    got = query(d / "out", "select key_values, change, changed_items from delta")
    out = {}
    for kv, change, items in got.iter_rows():
        k = json.loads(kv)
        out[tuple(k[i] for i in KEY)] = (change, items)
    return out


def test_the_delta_finds_each_event_of_the_month(months):
    d, _, _ = months
    truth = list(csv.DictReader((d / "dec" / "expected_delta.csv").open(encoding="utf-8")))
    assert {r["event"] for r in truth} == {"move", "birth", "death", "correction", "purge"}
    got = _delta_rows(d)
    assert {tuple(r[k] for k in KEY): r["change"] for r in truth} == {k: c for k, (c, _) in got.items()}
    for r in truth:
        change, items = got[tuple(r[k] for k in KEY)]
        if r["item"]:
            assert r["item"] in items.split(","), (r, items)


def test_the_delta_agrees_with_the_two_exports_read_by_the_csv_module(months):
    """Keys landed in either run, compared by their raw fields: a key in one export only is inserted
    or deleted, a record whose fields differ is changed, the others are not in the delta."""
    d, _, _ = months

    def records(folder):
        text = next(folder.glob("JUMIN_*.csv")).read_bytes().decode("cp932", "replace")
        rows = list(csv.reader(io.StringIO(text, newline="")))[2:]
        header = rows[0]
        at = [header.index(c) for c in ("宛名番号", "履歴番号", "枝番号")]
        return {(r[at[0]].zfill(10), r[at[1]], r[at[2]]): r for r in rows[1:] if len(r) == len(header)}
    nov, dec = records(d / "nov"), records(d / "dec")
    _, landed_nov = _keyed(d / "handover_nov", "991015_resident.csv")
    _, landed_dec = _keyed(d / "handover_dec", "991015_resident.csv")
    expected = {}
    for k in set(landed_nov) | set(landed_dec):
        if k not in landed_nov:
            expected[k] = "inserted"
        elif k not in landed_dec:
            expected[k] = "deleted"
        elif nov[k] != dec[k]:
            expected[k] = "changed"
    assert {k: c for k, (c, _) in _delta_rows(d).items()} == expected
    assert sum(1 for c in expected.values() if c == "changed") > 20


def test_the_earlier_handover_plus_the_delta_files_is_the_later_handover(months, tmp_path):
    d, base, _ = months
    header, state = _keyed(d / "handover_nov", "991015_resident.csv")
    manifest = json.loads((d / "delta_dec" / "manifest.json").read_text(encoding="utf-8"))
    assert {f["delta"] for f in manifest["files"]} == {"insert", "update", "delete"}
    assert {f["delta_from"] for f in manifest["files"]} == {base}
    deletes = _keyed(d / "delta_dec", "991015_resident_delta_delete.csv")[1]
    updates = _keyed(d / "delta_dec", "991015_resident_delta_update.csv")[1]
    inserts = _keyed(d / "delta_dec", "991015_resident_delta_insert.csv")[1]
    assert deletes and updates and inserts
    assert set(deletes) <= set(state) and set(updates) <= set(state) and not set(inserts) & set(state)
    for k, row in deletes.items():
        assert row[header.index("市区町村コード")] == "991015"
        del state[k]
    state.update(updates)
    state.update(inserts)
    later_header, later = _keyed(d / "handover_dec", "991015_resident.csv")
    assert later_header == header and state == later
    assert run_cli("verify-handover", d / "delta_dec").exit_code == 0
    # and ikou diff, by the key, finds nothing between the applied files and the later hand-over
    applied = tmp_path / "applied.csv"
    with applied.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\r\n").writerows([header, *state.values()])
    result = run_cli("diff", "--left", applied, "--right", d / "handover_dec" / "991015_resident.csv",
                     "--left-encoding", "utf-8", "--right-encoding", "utf-8", "--key", "宛名番号,個人履歴番号,個人履歴番号_枝番号")
    assert result.exit_code == 0, result.output


def test_the_delta_balances_in_the_summary_the_report_and_runs(months, tmp_path):
    d, base, summary = months
    (t,) = summary["delta"]["tables"]
    _, nov = _keyed(d / "handover_nov", "991015_resident.csv")
    _, dec = _keyed(d / "handover_dec", "991015_resident.csv")
    assert (t["previous"], t["current"]) == (len(nov), len(dec))
    assert t["previous"] + t["inserted"] - t["deleted"] == t["current"]
    assert t["inserted"] + t["changed"] + t["unchanged"] == t["current"]
    assert summary["delta"]["previous_run_id"] == base and summary["delta"]["reconciled"] and summary["reconciled"]
    assert query(d / "out", f"select delta_from from runs where run_id = '{summary['run_id']}'").item() == base
    report = run_cli("report", d / "out", "--format", "json")
    (m,) = json.loads(report.output)["municipalities"]
    assert m["delta"]["tables"][0]["inserted"] == t["inserted"] and m["reconciled"]
    text = run_cli("report", d / "out").output
    assert f"delta from run {base}" in text and f"inserted {t['inserted']:,}" in text
    # OUT's delta table changed after the run: the report says so
    tampered = tmp_path / "out"
    shutil.copytree(d / "out", tampered)
    import duckdb
    con = duckdb.connect(str(tampered / "ikou.duckdb"))
    con.execute("delete from delta where rowid in (select min(rowid) from delta where change = 'inserted')")
    con.close()
    again = json.loads(run_cli("report", tampered, "--format", "json").output)["municipalities"][0]
    assert not again["reconciled"] and any("delta table now holds" in p for p in again["reconciliation_problems"])


def test_a_delta_from_a_replaced_or_unknown_run_stops_before_anything_is_written(months):
    d, base, summary = months
    before = (d / "out" / "summary.json").read_bytes()
    for run_id, says in ((base, f"were replaced by run {summary['run_id']}"), ("nosuchrun", "holds no such run")):
        result = run_cli("migrate", "--mapping", MAPPING, "--input", d / "dec", "--out", d / "out",
                         "--delta-from", run_id)
        assert result.exit_code == 2 and says in result.output, result.output
    assert (d / "out" / "summary.json").read_bytes() == before
    no_out = run_cli("migrate", "--mapping", MAPPING, "--input", d / "dec", "--dry-run", "--delta-from", base)
    assert no_out.exit_code == 2 and "needs --out" in no_out.output


def test_a_dry_run_shows_the_delta_and_lands_nothing(months):
    d, _, summary = months
    before = (d / "out" / "summary.json").read_bytes()
    # the same export again, from the run landed now: nothing changed
    result = run_cli("migrate", "--mapping", MAPPING, "--input", d / "dec", "--out", d / "out", "--dry-run", "--json",
                     "--delta-from", d / "out")
    assert result.exit_code == 0, result.output
    (t,) = json.loads(result.output)["delta"]["tables"]
    assert (t["inserted"], t["changed"], t["deleted"]) == (0, 0, 0) and t["unchanged"] == t["current"] == t["previous"]
    assert (d / "out" / "summary.json").read_bytes() == before


def test_a_delta_export_of_a_run_that_is_not_a_delta_stops(tmp_path, months):
    d, _, _ = months
    out = tmp_path / "out"
    assert run_cli("migrate", "--mapping", MAPPING, "--input", d / "nov", "--out", out).exit_code == 0
    result = run_cli("export", out, "--to", tmp_path / "h", "--delta")
    assert result.exit_code == 2 and "is not a delta run" in result.output
    assert not (tmp_path / "h").exists()


def test_a_row_deleted_because_its_record_was_rejected_this_time_is_told_apart(months, tmp_path):
    """A record landed last month and rejected this month (its 生年月日 now unreadable) leaves the
    landed table: the delta deletes it, but says the export still has it (not a purge)."""
    d, _, _ = months
    truth = {tuple(r[k] for k in KEY) for r in csv.DictReader((d / "dec" / "expected_delta.csv").open(encoding="utf-8"))}
    _, landed = _keyed(d / "handover_dec", "991015_resident.csv")
    src = next((d / "dec").glob("JUMIN_*.csv"))
    data = src.read_bytes()
    lines = data.split(b"\r\n")
    for i, line in enumerate(lines[3:], start=3):  # a record on one line, landed, untouched by the month
        try:
            text = line.decode("cp932")
        except UnicodeDecodeError:
            continue
        if '"' in text:
            continue
        fields = next(csv.reader([text]))
        k = (fields[0].zfill(10), fields[1], fields[2])
        if k in landed and k not in truth:
            header = next(csv.reader([lines[2].decode("cp932")]))
            fields[header.index("生年月日")] = "昭和九十九年十三月"
            buf = io.StringIO()
            csv.writer(buf, lineterminator="").writerow(fields)
            lines[i] = buf.getvalue().encode("cp932")
            break
    export = tmp_path / "jan"
    export.mkdir()
    (export / src.name).write_bytes(b"\r\n".join(lines))
    result = run_cli("migrate", "--mapping", MAPPING, "--input", export, "--out", d / "out", "--dry-run", "--json",
                     "--delta-from", d / "out")
    assert result.exit_code == 0, result.output
    (t,) = json.loads(result.output)["delta"]["tables"]
    assert (t["inserted"], t["changed"], t["deleted"], t["deleted_not_landed"]) == (0, 0, 1, 1)
    text = run_cli("migrate", "--mapping", MAPPING, "--input", export, "--out", d / "out", "--dry-run",
                   "--delta-from", d / "out").output
    assert "1 of the deleted rows are still in the export" in text
