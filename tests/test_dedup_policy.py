"""名寄せ that never merges two different people: the auto-merge policy (dedup.auto_merge_requires),
the reviewer's evidence, and interrupts during training (issue 17).

A 3,000-resident export gets two more records for one resident A: a namesake N (same name,
reading, birth date and sex; another address and another mobile phone: a stranger, or A after a
move and a new phone — a person decides) and a second registration S (same name and birth
date, moved, but A's phone). M is A once more, moved and with another phone, but in A's 戸籍 (本籍 and 筆頭者): merged.
A third record T at S's new address, without a phone, with a
住民票コード of its own, would chain A, S and T into one cluster: held for review instead."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import NamedTuple

import duckdb
import numpy as np
import polars as pl
import pytest

from ikou.fixtures.generator import generate

from .conftest import copy_mapping, query, run_cli

EXPORT = "JUMIN_991015_20261101.csv"


class Planted(NamedTuple):
    folder: Path  # the export with N, S and RN
    mapping: Path
    a: int  # source lines: A, N, S
    n: int
    s: int
    chained: Path  # the same export with T as well
    t: int
    r: int  # R (a name nobody else has) and its namesake RN
    rn: int
    m: int  # A moved, with another phone, in A's 戸籍 (本籍 and 筆頭者)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """The export with N, S and RN planted, and a copy with T as well (Planted)."""
    folder = tmp_path_factory.mktemp("policy")
    generate(folder, residents=3000, seed=11, defects=False)
    path = folder / EXPORT
    text = path.read_bytes().decode("cp932")
    records = list(csv.reader(io.StringIO(text, newline="")))
    header = records[2]
    col = {c: i for i, c in enumerate(header)}
    body = records[3:]
    counts: dict[str, int] = {}
    for r in body:
        counts[r[col["氏名"]]] = counts.get(r[col["氏名"]], 0) + 1
    # A: a current resident with a mobile phone, one record, and a name others have too (common)
    atena_counts: dict[str, int] = {}
    for r in body:
        atena_counts[r[col["宛名番号"]]] = atena_counts.get(r[col["宛名番号"]], 0) + 1
    a = max((r for r in body if r[col["住民状態"]] == "1" and r[col["電話番号"]].startswith("090")
             and atena_counts[r[col["宛名番号"]]] == 1 and r[col["住民種別"]] == "J"),
            key=lambda r: counts[r[col["氏名"]]])
    # R: a resident whose name nobody else has (its agreement weighs most)
    r_ = next(r for r in body if r[col["住民状態"]] == "1" and atena_counts[r[col["宛名番号"]]] == 1
              and r[col["住民種別"]] == "J" and counts[r[col["氏名"]]] == 1 and r[col["町字コード"]] != a[col["町字コード"]])
    towns = {r[col["町字コード"]]: r for r in body if r[col["町字コード"]] != a[col["町字コード"]]}
    there, elsewhere = list(towns.values())[:2]  # two other addresses

    def second(atena: str, phone: str, address: list[str], code: str = "", of: list[str] = a,
               register: tuple[str, str] | None = None) -> list[str]:
        """A record of ``of`` with a new 宛名番号, ``address``'s address, ``phone``, and
        ``register`` as 本籍 and 筆頭者 (``of``'s own if not given: the same person)."""
        r = list(of)
        r[col["宛名番号"]], r[col["世帯番号"]] = atena, atena
        r[col["住民票コード"]], r[col["個人番号"]] = code, ""
        r[col["続柄"]], r[col["続柄名"]], r[col["記載順位"]] = "01", "世帯主", "1"
        for c in ("町字コード", "町字", "番地", "郵便番号", "方書"):
            r[col[c]] = address[col[c]]
        r[col["電話番号"]] = phone
        if register is not None:
            r[col["本籍"]], r[col["筆頭者"]] = register
        return r

    # a stranger belongs to a 戸籍 of his own: N's and RN's are the other address's household's
    n = second("0990000011", "080-1111-2222", elsewhere, register=(elsewhere[col["本籍"]], elsewhere[col["筆頭者"]]))
    s = second("0990000029", a[col["電話番号"]], there)
    # T: at S's address, with no phone and a 住民票コード of its own (valid, nobody else's)
    from ikou.fixtures.generator import with_check_digit
    t = second("0990000037", "", there, code=str(with_check_digit(np.array([3141592653]), 10)[0]))
    # R's namesake: the rare name, birth date and sex, another address, no phone
    far = next(r for r in body if r[col["町字コード"]] not in (r_[col["町字コード"]], there[col["町字コード"]]))
    rn = second("0990000045", "", far, of=r_, register=(far[col["本籍"]], far[col["筆頭者"]]))
    # M: A again, moved, another phone, but in A's 戸籍 (its 本籍's number in kanji)
    m = second("0990000053", "080-3333-4444", far, register=(kanji_lot(a[col["本籍"]]), a[col["筆頭者"]]))
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows([n, s, rn, m])
    path.write_bytes(text.encode("cp932") + out.getvalue().encode("cp932"))
    lines = _lines(path, col["宛名番号"])
    mapping = copy_mapping(tmp_path_factory.mktemp("policy-mapping"), dedup="probabilistic")
    # the same export with T too, in a folder of its own
    chained = tmp_path_factory.mktemp("policy-chained")
    more = io.StringIO(newline="")
    csv.writer(more, lineterminator="\r\n").writerow(t)
    (chained / EXPORT).write_bytes(path.read_bytes() + more.getvalue().encode("cp932"))
    t_line = _lines(chained / EXPORT, col["宛名番号"])["0990000037"]
    return Planted(folder, mapping, lines[a[col["宛名番号"]]], lines["0990000011"], lines["0990000029"], chained,
                   t_line, lines[r_[col["宛名番号"]]], lines["0990000045"], lines["0990000053"])


def kanji_lot(domicile: str) -> str:
    """東京都新宿区12番地 -> 東京都新宿区十二番地 (numbers below 100, as 戸籍 write them)."""
    import re

    def kanji(match):
        n, digits = int(match.group()), "〇一二三四五六七八九"
        tens, ones = divmod(n, 10)
        return (("" if tens == 1 else digits[tens]) + "十" if tens else "") + (digits[ones] if ones else "")
    changed = re.sub("[0-9]{1,2}(?=番)", kanji, domicile)
    assert changed != domicile, domicile
    return changed


def _lines(path: Path, atena: int) -> dict[str, int]:
    lines, prev = {}, 0
    reader = csv.reader(io.StringIO(path.read_bytes().decode("cp932"), newline=""))
    for r in reader:
        if len(r) > atena:
            lines[r[atena]] = prev + 1
        prev = reader.line_num
    return lines


@pytest.fixture(scope="module")
def policy_run(planted, tmp_path_factory):
    out = tmp_path_factory.mktemp("policy-out")
    result = run_cli("migrate", "--mapping", planted.mapping, "--input", planted.folder, "--out", out, "--json")
    assert result.exit_code == 0, result.output
    return out, json.loads(result.output)


def _fate(out: Path, line: int) -> tuple[str, int | None]:
    row = query(out, f"select fate, survivor_line from lineage where source_line = {line}")
    return row["fate"][0], row["survivor_line"][0]


def test_a_namesake_with_another_address_and_phone_is_not_merged(planted, policy_run):
    a, n = planted.a, planted.n
    out, _ = policy_run
    assert _fate(out, n) == ("landed", None)
    # if the model scored the pair high, it waits for a person, saying why it was held
    pair = _pair(out, a, n)
    if pair.height and pair["match_probability"][0] >= 0.999:
        assert "held: no same_address / same_phone" in pair["evidence"][0], pair["evidence"][0]


def _pair(out: Path, one: int, other: int) -> pl.DataFrame:
    return query(out, f"select match_probability, evidence, pair_key from review_queue where {one} in "
                      f"(source_line_1, source_line_2) and {other} in (source_line_1, source_line_2)")


def test_the_same_namesake_sharing_the_phone_is_merged(planted, policy_run):
    out, _ = policy_run
    assert _fate(out, planted.s) == ("merged", planted.a)


def test_the_same_namesake_in_the_same_family_register_is_merged(planted, policy_run):
    """M has another address and another phone, like the stranger N, but A's 本籍 (its number
    written in kanji) and 筆頭者: the 戸籍 corroborates, and M is merged into A."""
    out, _ = policy_run
    assert _fate(out, planted.m) == ("merged", planted.a)


def _with(mapping: Path, folder: Path, name: str, extra: str) -> Path:
    """The mapping with auto_merge 0.95 (so that a pair the model is 98 % sure of counts as sure)
    and ``extra`` lines under dedup."""
    text = mapping.read_text(encoding="utf-8").replace("  auto_merge: 0.999\n", "  auto_merge: 0.95\n" + extra)
    assert "auto_merge: 0.95" in text
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_sure_pair_without_corroboration_waits_for_review(planted, tmp_path):
    """R's name is unique in the export: its namesake RN (same birth date and sex, another
    address, no phone) scores above auto_merge (0.95 here), yet nothing but name, birth date and
    sex says so: held for review, with the reason."""
    out = tmp_path / "out"
    result = run_cli("migrate", "--mapping", _with(planted.mapping, tmp_path, "strict.yaml", ""),
                     "--input", planted.folder, "--out", out)
    assert result.exit_code == 0, result.output
    pair = _pair(out, planted.r, planted.rn)
    assert pair.height == 1 and pair["match_probability"][0] >= 0.95, pair
    assert "held: no same_address / same_phone / same_household / same_identifier" in pair["evidence"][0]
    assert _fate(out, planted.rn) == ("landed", None)


def test_policy_is_data_in_the_mapping(planted, tmp_path):
    """auto_merge_requires: any_of: [] and none_of: [] merge on the score alone (the old
    behaviour): R's namesake, held under the default policy, is then merged. A misspelt fact is
    refused at load, naming the closest one."""
    loose = _with(planted.mapping, tmp_path, "loose.yaml", "  auto_merge_requires: {any_of: [], none_of: []}\n")
    out = tmp_path / "out"
    result = run_cli("migrate", "--mapping", loose, "--input", planted.folder, "--out", out, "--json")
    assert result.exit_code == 0, result.output
    assert _fate(out, planted.rn) == ("merged", planted.r)
    bad = tmp_path / "bad.yaml"
    bad.write_text(loose.read_text(encoding="utf-8").replace("any_of: []", "any_of: [same_adress]"), encoding="utf-8")
    result = run_cli("migrate", "--mapping", bad, "--input", planted.folder, "--out", tmp_path / "bad-out")
    assert result.exit_code == 2 and "same_adress" in result.output and "same_address" in result.output


def test_every_review_pair_carries_its_evidence(policy_run):
    out, summary = policy_run
    queue = query(out, "select evidence, match_probability from review_queue")
    assert summary["dedup"][0]["review_pairs"] == queue.height and queue.height > 0
    assert queue["evidence"].null_count() == 0
    for text in queue["evidence"]:
        # each comparison with its level and weight, e.g. "birth: Exact match on birth_date (+14.2)"
        for comparison in ("name", "birth", "sex", "contact"):
            assert f"{comparison}: " in text, text
        assert text.count("(+") + text.count("(-") >= 4, text
    held = queue.filter(pl.col("match_probability") >= 0.999)
    assert all("held: " in t for t in held["evidence"])


def _state(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file() and p.name != ".ikou.lock"}


def _interrupt(how: str):
    """A fault for the "training" point: Ctrl-C as DuckDB reports it, the same wrapped by splink
    (SplinkException from it), or SIGTERM sent to the process (a scheduler stopping the run)."""
    import os
    import signal

    from splink.internals.exceptions import SplinkException

    def fault(point, value):
        if point != "training":
            return value
        if how == "sigterm":
            os.kill(os.getpid(), signal.SIGTERM)
            return value
        error = duckdb.InterruptException("INTERRUPT Error: Interrupted!")
        if how == "duckdb":
            raise error
        try:
            raise error
        except duckdb.InterruptException as exc:
            raise SplinkException("Error executing the following SQL") from exc
    return fault


@pytest.mark.parametrize("how", ["duckdb", "wrapped", "sigterm"],
                         ids=["duckdb-interrupt", "wrapped-by-splink", "sigterm"])
def test_an_interrupt_during_training_ends_the_run_and_keeps_out(planted, policy_run, tmp_path, how):
    """Ctrl-C reaches a running DuckDB query as duckdb.InterruptException, which splink wraps in
    its own exception, and SIGTERM is turned into the same: each time exit 130, and OUT as the
    last committed run left it."""
    import shutil

    out = tmp_path / "out"
    shutil.copytree(policy_run[0], out)
    before = _state(out)
    result = run_cli("migrate", "--mapping", planted.mapping, "--input", planted.folder, "--out", out,
                     fault=_interrupt(how))
    assert result.exit_code == 130, result.output
    assert _state(out) == before


def test_a_chain_of_sure_pairs_does_not_outweigh_a_contradiction(planted, tmp_path):
    """S = A (same phone) and T = S (same address) are sure pairs; T and A have different
    住民票コード: the cluster A, S, T is not merged, its pairs wait for review."""
    a, s, t = planted.a, planted.s, planted.t
    out = tmp_path / "out"
    result = run_cli("migrate", "--mapping", planted.mapping, "--input", planted.chained, "--out", out, "--json")
    assert result.exit_code == 0, result.output
    assert _fate(out, s) == ("landed", None) and _fate(out, t) == ("landed", None)
    assert _pair(out, a, s).height == 1 and _pair(out, s, t).height == 1
    at = _pair(out, a, t)
    assert at.height == 0 or at["match_probability"][0] < 0.999 or "different_identifier" in at["evidence"][0]


def test_a_clean_export_keeps_every_comparison_in_its_model(tmp_path):
    """EM finds nothing to learn on a blocking of a clean export (no duplicates): the model keeps
    every comparison (a failed EM session used to drop the ones it had set aside, name and
    contact, and the pairs were then scored on reading, birth date and sex alone)."""
    folder = tmp_path / "clean"
    generate(folder, residents=1500, seed=3, defects=False)
    mapping = copy_mapping(tmp_path, dedup="probabilistic")
    out = tmp_path / "out"
    result = run_cli("migrate", "--mapping", mapping, "--input", folder, "--out", out, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["dedup"][0]["training_skipped"]  # the case in point
    model = json.loads((out / "review" / "991015" / "model_resident.json").read_text(encoding="utf-8"))
    assert [c["output_column_name"] for c in model["comparisons"]] == ["name", "birth", "sex", "contact", "register"]


def test_a_reviewers_same_outranks_the_contradiction(planted, tmp_path):
    """A and T have two 住民票コード, so their cluster waits for review; a reviewer decides A and T
    are the same person (the code is corrected later): the next run merges S and T into A."""
    out = tmp_path / "out"
    first = run_cli("migrate", "--mapping", planted.mapping, "--input", planted.chained, "--out", out)
    assert first.exit_code == 0, first.output
    key = _pair(out, planted.a, planted.t)["pair_key"][0]
    decisions = tmp_path / "decisions.csv"
    decisions.write_text(f"pair_key,decision\n{key},同一\n", encoding="utf-8")
    text = planted.mapping.read_text(encoding="utf-8")
    text = text.replace("decisions: review_decisions_991015.csv", f"decisions: {decisions.name}")
    decided = tmp_path / "decided.yaml"
    decided.write_text(text, encoding="utf-8")
    again = run_cli("migrate", "--mapping", decided, "--input", planted.chained, "--out", out)
    assert again.exit_code == 0, again.output
    assert _fate(out, planted.t) == ("merged", planted.a)
    assert _fate(out, planted.s) == ("merged", planted.a)


def test_the_review_page_marks_the_characters_that_differ(policy_run):
    from ikou.reconciliation.review_page import marked

    left, right = marked("髙橋\u3000太郎", "高橋\u3000太郎")
    assert left.parts == (("髙", True), ("橋\u3000太郎", False)) and right.parts == (("高", True), ("橋\u3000太郎", False))
    left, right = marked("0007010079", "0007710052")  # numbers differ as a whole, not digit by digit
    assert left.parts == (("0007010079", True),)
    out, summary = policy_run
    page = (out / "review" / "991015" / "review_queue_resident.html").read_text(encoding="utf-8")
    pairs = summary["dedup"][0]["review_pairs"]
    assert page.count("<details") == min(pairs, 1000) and f"{pairs} 組" in page
    assert "<mark>" in page and "一致確率" in page
