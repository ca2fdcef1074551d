"""Nothing POSIX-only on any command's path (issue 19): `ikou demo` — fixtures, a group run in
worker processes, a migration, the reports — runs in a subprocess where fcntl and the other
POSIX-only modules cannot be imported (as on Windows), in this process and in every worker (a
sitecustomize on PYTHONPATH blocks them before anything else is imported)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

POSIX_ONLY = ("fcntl", "termios", "grp", "resource", "pwd", "posix_ipc", "pty", "tty")

BLOCKER = f'''
import sys
from importlib.abc import MetaPathFinder

class _PosixOnly(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in {POSIX_ONLY!r}:
            raise ImportError(name + " is POSIX-only: not available on Windows")
        return None

sys.meta_path.insert(0, _PosixOnly())
for _name in {POSIX_ONLY!r}:
    sys.modules.pop(_name, None)
'''


def test_the_demo_runs_without_posix_only_modules(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    probe = subprocess.run([sys.executable, "-c", "import fcntl"], env=env, capture_output=True, text=True)
    assert probe.returncode != 0 and "POSIX-only" in probe.stderr  # the blocker works
    out = tmp_path / "demo"
    result = subprocess.run([sys.executable, "-m", "ikou", "demo", "--out", str(out)], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "POSIX-only" not in result.stderr
    assert any((out / "demo" / "report").glob("*.html")) and (out / "demo" / "ikou.duckdb").is_file()
    assert "reconciled" in result.stdout
    for code in ("991015", "991023", "991031", "991040"):
        assert code in result.stdout
    assert Path(out / "demo-input" / "yamabiko").is_dir()
