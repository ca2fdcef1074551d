"""The fixture generator: deterministic, unique identifiers, valid check digits where intended."""

from __future__ import annotations

import csv
import io

from ikou.fixtures.generator import EXPORT_NAME, generate
from ikou.validators.check_digits import is_valid


def test_same_seed_same_bytes(tmp_path):
    a, b = generate(tmp_path / "a", residents=800, seed=11), generate(tmp_path / "b", residents=800, seed=11)
    assert a.path.read_bytes() == b.path.read_bytes()
    assert a.expected.read_bytes() == b.expected.read_bytes()
    c = generate(tmp_path / "c", residents=800, seed=12)
    assert c.path.read_bytes() != a.path.read_bytes()


def test_clean_export_has_unique_valid_identifiers(tmp_path):
    export = generate(tmp_path, residents=3000, seed=2, defects=False)
    rows = list(csv.DictReader(io.StringIO(export.path.read_bytes().decode("cp932"), newline="")
                               .read().split("\n", 2)[2].splitlines(True)))
    # the hard keys of the layout are unique in a clean export (history rows differ in 履歴番号)
    codes = [(r["住民票コード"], r["履歴番号"]) for r in rows]
    atena = [(r["宛名番号"].zfill(10), r["履歴番号"]) for r in rows]
    assert len(set(codes)) == len(codes) and len(set(atena)) == len(atena)
    assert all(is_valid("resident_code", r["住民票コード"]) for r in rows)
    assert all(is_valid("individual_number", r["個人番号"]) for r in rows if r["個人番号"])
    assert all(is_valid("modulus11", r["宛名番号"].zfill(10)) for r in rows)
    assert export.records == len(rows) and export.path.name == EXPORT_NAME
