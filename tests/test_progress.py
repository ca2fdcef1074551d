"""Progress for every phase (ikou/progress.py, issue 19): a line per phase and per tenth in a log,
one redrawn line per phase on a terminal, JSON lines with --log-format json, nothing with
--quiet; errors as JSON with --log-format json or a command's --json."""

from __future__ import annotations

import io
import json

import pytest

from ikou.fixtures.generator import generate
from ikou.progress import JsonProgress, LineProgress, TerminalProgress, progress_for
from tests.conftest import MAPPING, run_cli


class Tty(io.StringIO):
    """A standard error that is a terminal."""

    def isatty(self):
        return True


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_the_terminal_clock_moves_in_a_phase_with_nothing_to_count():
    import time

    out = Tty()
    p = TerminalProgress(out)
    p.TICK = 0.05
    p.phase("名寄せ resident")
    time.sleep(0.4)
    p.finish()
    assert out.getvalue().count("\r") >= 4  # redrawn by the ticker while nothing was counted
    last = out.getvalue().split("\r")[-1]
    assert "done" in last and last.endswith(" s\x1b[K\n") and out.getvalue().count("\n") == 1


def test_a_log_gets_a_line_per_phase_and_per_tenth():
    out, clock = io.StringIO(), Clock()
    p = LineProgress(out, clock=clock)
    p.phase("extract")
    for done in (5, 12, 14, 37, 99, 100):
        clock.t += 1
        p.advance(done, 100, records=done * 10)
    p.phase("resolve")
    clock.t += 2.5
    p.finish()
    lines = out.getvalue().splitlines()
    assert lines[0] == "ikou: extract …"
    # 12 % crosses the first tenth, 37 % the third, 99 % the ninth; 5 %, 14 % and 100 % add nothing
    assert [line.split()[2] for line in lines[1:4]] == ["12%,", "37%,", "99%,"]
    assert lines[4].startswith("ikou: extract done in 6.0 s (1,000 records")
    assert lines[5:] == ["ikou: resolve …", "ikou: resolve done in 2.5 s"]


def test_a_stopped_phase_says_so_and_is_not_done():
    out = io.StringIO()
    p = LineProgress(out, clock=Clock())
    p.phase("extract")
    p.finish(ok=False)
    assert out.getvalue().splitlines()[-1].startswith("ikou: extract stopped after")


def test_json_progress_is_one_object_a_line():
    out, clock = io.StringIO(), Clock()
    p = JsonProgress(out, clock=clock)
    p.phase("extract")
    clock.t = 2
    p.advance(50, 100, records=500)
    p.note("member 991015: succeeded")
    p.finish()
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["event"] for e in events] == ["phase", "progress", "note", "done"]
    assert events[1] == {"event": "progress", "phase": "extract", "fraction": 0.5, "records": 500, "seconds": 2}
    assert events[3]["seconds"] == 2 and events[3]["records"] == 500


def test_a_terminal_gets_one_line_per_phase_redrawn_in_place():
    out = Tty()
    p = progress_for(out)
    assert isinstance(p, TerminalProgress)
    p._ticker = None  # this test draws by itself (the ticker redraws a phase with nothing to count)
    p.phase("extract")
    p.advance(30, 100, records=300)
    p.phase("resolve")
    p.finish()
    text = out.getvalue()
    assert text.count("\n") == 2 and "\r" in text  # each phase ends its line once
    assert "extract            done" in text and "resolve            done" in text
    assert isinstance(progress_for(io.StringIO()), LineProgress)


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    d = tmp_path_factory.mktemp("progress")
    generate(d / "in", residents=3000)
    return d / "in"


def test_migrate_in_a_log_prints_every_phase_and_stdout_stays_json(export, tmp_path):
    result = run_cli("migrate", "--mapping", MAPPING, "--input", export, "--out", tmp_path / "out", "--json",
                     quiet=False)
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)  # standard output holds the summary alone
    for phase in ("check", "extract", "resolve resident", "名寄せ resident", "assemble", "reconcile", "land"):
        assert f"ikou: {phase} …" in result.stderr and f"ikou: {phase} done in" in result.stderr, phase


def test_quiet_prints_no_progress(export):
    result = run_cli("migrate", "--mapping", MAPPING, "--input", export, "--dry-run", quiet=True)
    assert result.exit_code == 0 and result.stderr == ""


def test_log_format_json_gives_json_progress_and_json_errors(export, tmp_path):
    result = run_cli("--log-format", "json", "validate", "--mapping", MAPPING, "--input", export, quiet=False)
    assert result.exit_code == 0
    events = [json.loads(line) for line in result.stderr.splitlines()]
    assert {e["phase"] for e in events} >= {"check", "extract", "reconcile"}
    bad = run_cli("--log-format", "json", "migrate", "--mapping", tmp_path / "none.yaml", "--input", export,
                  "--dry-run", quiet=False)
    err = json.loads(bad.stderr.splitlines()[-1])
    assert bad.exit_code == 2 and err["exit_code"] == 2 and "none.yaml" in err["error"]
    # a command's own --json makes its error JSON too
    bad = run_cli("migrate", "--mapping", tmp_path / "none.yaml", "--input", export, "--dry-run", "--json")
    assert json.loads(bad.stderr)["exit_code"] == 2


def test_report_and_diff_print_their_phases_and_keep_stdout_for_results(export, tmp_path):
    out = tmp_path / "out"
    assert run_cli("migrate", "--mapping", MAPPING, "--input", export, "--out", out).exit_code in (0, 1)
    result = run_cli("report", out, "--format", "json", quiet=False)
    json.loads(result.stdout)
    assert "ikou: report: count again from OUT …" in result.stderr and "ikou: report: write json done" in result.stderr
    left = tmp_path / "a.csv"
    left.write_text("k,v\r\n1,a\r\n2,b\r\n", encoding="utf-8")
    result = run_cli("diff", "--left", left, "--right", left, "--key", "k", "--json", quiet=False)
    assert result.exit_code == 0 and json.loads(result.stdout)
    assert "ikou: diff: read and compare by key done in" in result.stderr
