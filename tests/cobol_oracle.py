"""GnuCOBOL as the oracle: tests/cobol's programs compiled with cobc and run, the files they
write (exports and the values COBOL itself displayed) handed to the tests. CI (.ci/run) requires
cobc (IKOU_REQUIRE_COBOL=1; `make cobol` installs Debian's gnucobol); elsewhere the tests skip,
saying so."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

COBOL = ROOT / "tests" / "cobol"


def cobc() -> str:
    found = shutil.which("cobc")
    if found is None:
        if os.environ.get("IKOU_REQUIRE_COBOL") == "1":
            pytest.fail("IKOU_REQUIRE_COBOL=1 but GnuCOBOL's cobc is not installed (make cobol)")
        pytest.skip("GnuCOBOL's cobc is not installed: `make cobol` installs Debian's gnucobol")
    return found


def run_cobol(program: str, folder: Path) -> Path:
    """Compile tests/cobol/<program>.cob (its COPY books from tests/cobol) and run it in
    ``folder``: the files it writes land there."""
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / program
    subprocess.run([cobc(), "-x", "-I", str(COBOL), "-o", str(exe), str(COBOL / f"{program}.cob")], check=True,
                   capture_output=True)
    subprocess.run([str(exe)], cwd=folder, check=True, capture_output=True)
    return folder


def write_mapping(path: Path, layout: Path, sources: list[dict]) -> Path:
    """A mapping of the test municipality (高松市) over ``layout`` with these sources."""
    path.write_text(yaml.safe_dump({"municipality": {"code": "372013", "name": "高松市"}, "layout": str(layout),
                                    "sources": sources}, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
