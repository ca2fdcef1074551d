"""Japanese and English: the message catalogue is complete, and the language follows the locale
and --lang (issue 19, part 1)."""

from __future__ import annotations

import ast
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ikou.cli import cli
from ikou.i18n import catalog, language, placeholders
from ikou.reasons import catalog as reasons

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ikou"
# functions whose first argument is a message template of the catalogue
TEMPLATE_CALLS = {"tr", "mark"}
# calls whose first string is shown to a person; it must go through tr (or be a variable)
SHOWN = {"IkouError", "BadParameter", "UsageError", "ClickException"}


def _sources():
    for path in sorted(PACKAGE.rglob("*.py")):
        if "fixtures" in path.parts:  # the fictional exports' generator writes data, not messages
            continue
        yield path, ast.parse(path.read_text(encoding="utf-8"))


def _call_name(node: ast.Call) -> str | None:
    f = node.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


def used_templates() -> dict[str, str]:
    """Every template the code hands to tr/mark or names a progress phase with -> where."""
    found: dict[str, str] = {}
    for path, tree in _sources():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = _call_name(node)
            first = node.args[0]
            literal = isinstance(first, ast.Constant) and isinstance(first.value, str)
            if literal and (name in TEMPLATE_CALLS and isinstance(node.func, ast.Name) or name == "phase"):
                found.setdefault(first.value, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def help_texts() -> dict[str, str]:
    """Every help text of the command tree (as click shows it: docstrings cleaned) -> command."""
    found: dict[str, str] = {}

    def walk(cmd: click.Command, where: str) -> None:
        english = [getattr(cmd, "_ikou_en_help", cmd.help), getattr(cmd, "_ikou_en_short_help", cmd.short_help)]
        english += [getattr(p, "_ikou_en_help", p.help) for p in cmd.params if isinstance(p, click.Option)]
        for text in english:
            if text:
                found.setdefault(inspect.cleandoc(text), where)
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, f"{where} {name}")
    walk(cli, "ikou")
    return found


def test_every_message_and_help_text_has_japanese_with_the_same_placeholders():
    table = catalog()
    wanted = {**help_texts(), **used_templates()}
    missing = {t: w for t, w in wanted.items() if t not in table}
    assert not missing, "add to ikou/catalog/messages.yaml:\n" + "\n".join(
        f"  - en: {json.dumps(t, ensure_ascii=False)}  # {w}\n    ja: " for t, w in missing.items())
    wrong = [(en, ja) for en, ja in table.items() if placeholders(en) != placeholders(ja)]
    assert not wrong, wrong
    empty = [en for en, ja in table.items() if not ja.strip()]
    assert not empty, empty
    # a translation that is the English again is a missed one, unless there are no words in it
    # (a template of placeholders, a command line)
    untranslated = [en for en, ja in table.items() if en == ja and any(w.isalpha() and len(w) > 3 and w.isascii()
                                                                      for w in _words(en))]
    assert not untranslated, untranslated


def _words(template: str) -> list[str]:
    import re
    text = re.sub(r"\{[^}]*\}", " ", template)
    # a key of a file (.pattern, default_from) is not a word to translate
    return re.findall(r"(?<![.\w])[A-Za-z]+(?![\w.])", text) if not text.lstrip().startswith(("$", "--")) else []


def test_every_catalogue_entry_is_used():
    wanted = set(help_texts()) | set(used_templates())
    stale = [en for en in catalog() if en not in wanted]
    assert not stale, f"messages.yaml holds entries nothing uses: {stale}"


def test_every_reason_code_has_both_languages():
    for r in reasons().values():
        assert r.en.strip() and r.ja.strip() and r.en != r.ja, r.code
        assert placeholders(r.en.replace("{}", "{value}")) == placeholders(r.ja.replace("{}", "{value}")), r.code


def test_a_shown_message_never_bypasses_the_catalogue():
    """An error, hint or problem written as a bare string literal would stay English."""
    bare = []
    for path, tree in _sources():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _call_name(node)
            shown: list[ast.AST] = []
            if name in SHOWN:
                shown += node.args[:1] + [k.value for k in node.keywords if k.arg == "hint"]
            elif name == "append" and isinstance(node.func, ast.Attribute) and "problem" in ast.unparse(node.func.value):
                shown += node.args
            for arg in shown:
                text = ("".join(v.value for v in arg.values if isinstance(v, ast.Constant))
                        if isinstance(arg, ast.JoinedStr) else arg.value
                        if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else "")
                if _words(text):  # an f-string of translated parts and punctuation is fine
                    bare.append(f"{path.relative_to(ROOT)}:{arg.lineno}: {ast.unparse(arg)[:80]}")
    assert not bare, "\n".join(bare)


@pytest.mark.parametrize(("env", "args", "lang"), [
    ({"LANG": "ja_JP.UTF-8"}, [], "ja"),
    ({"LC_ALL": "ja_JP.UTF-8", "LANG": "en_US.UTF-8"}, [], "ja"),
    ({"LC_ALL": "C.UTF-8", "LANG": "ja_JP.UTF-8"}, [], "en"),  # LC_ALL comes first, as in POSIX
    ({"LANG": "ja_JP.UTF-8"}, ["--lang", "en"], "en"),
    ({"LANG": "en_US.UTF-8"}, ["--lang", "ja"], "ja"),
    ({}, [], "en"),
])
def test_the_language_follows_the_locale_and_lang(tmp_path, env, args, lang):
    """A subprocess, as a person runs it: a missing mapping's error and --help in the language."""
    base = {k: v for k, v in os.environ.items() if k not in ("LANG", "LC_ALL", "LC_MESSAGES", "IKOU_LANG")}
    run = [sys.executable, "-m", "ikou", "--quiet", *args, "migrate", "--mapping", str(tmp_path / "none.yaml"),
           "--input", str(tmp_path), "--out", str(tmp_path / "out")]
    result = subprocess.run(run, env={**base, **env}, capture_output=True, text=True, encoding="utf-8")
    assert result.returncode == 2
    if lang == "ja":
        assert result.stderr.startswith("エラー: ") and "がありません" in result.stderr, result.stderr
    else:
        assert result.stderr.startswith("error: ") and "does not exist" in result.stderr, result.stderr
    shown = subprocess.run([sys.executable, "-m", "ikou", *args, "migrate", "--help"], env={**base, **env},
                           capture_output=True, text=True, encoding="utf-8")
    assert shown.returncode == 0
    assert ("旧システムのエクスポート" in shown.stdout) == (lang == "ja"), shown.stdout


def test_lang_in_process_switches_back(monkeypatch):
    """--lang ja, then a run without it: the help is English again (the English is kept)."""
    runner = CliRunner()
    ja = runner.invoke(cli, ["--lang", "ja", "migrate", "--help"])
    assert "市区町村のマッピングファイル" in ja.output
    assert language() == "ja"
    monkeypatch.setenv("IKOU_LANG", "en")
    en = runner.invoke(cli, ["migrate", "--help"])
    assert "The municipality's mapping file" in en.output and "市区町村" not in en.output


def test_japanese_problems_of_a_mapping(tmp_path, monkeypatch):
    """Every problem of a bad mapping, in Japanese: the file-level error and its list."""
    mapping = tmp_path / "m.yaml"
    mapping.write_text("mapping_version: 1\nmunicipality: {code: '12345', name: x}\nlayout: resident\n"
                       "sources: []\nbogus: 1\n", encoding="utf-8")
    (tmp_path / ".ikou-root").touch()
    monkeypatch.setenv("IKOU_LANG", "ja")
    result = CliRunner().invoke(cli, ["--quiet", "migrate", "--mapping", str(mapping), "--input", str(tmp_path),
                                      "--dry-run"])
    assert result.exit_code == 2
    assert "件の問題があります" in result.output, result.output
    assert "不明なキー 'bogus'" in result.output, result.output
    assert "ヒント: " in result.output


def test_the_compiled_click_catalogue_is_current():
    """messages.mo is built from click.ja.yaml (`make generated`): the committed bytes are those."""
    from importlib import resources

    from ikou.i18n import click_catalog_mo
    committed = resources.files("ikou.catalog").joinpath("locale", "ja", "LC_MESSAGES", "messages.mo").read_bytes()
    assert committed == click_catalog_mo(), "run make generated (scripts/build_click_catalog.py)"


def test_clicks_own_usage_errors_in_japanese(monkeypatch):
    monkeypatch.setenv("IKOU_LANG", "ja")
    result = CliRunner().invoke(cli, ["migrate", "--chunk-mb", "0", "--mapping", "m", "--input", "i"])
    assert result.exit_code == 2
    assert "使い方: " in result.output and "の値が不正です" in result.output, result.output
    monkeypatch.setenv("IKOU_LANG", "en")
    result = CliRunner().invoke(cli, ["migrate", "--chunk-mb", "0", "--mapping", "m", "--input", "i"])
    assert "Usage: " in result.output and "Invalid value" in result.output, result.output


@pytest.mark.parametrize(("text", "width", "lines"), [
    ("一つの市区町村の旧システム", 10, ["一つの市区", "町村の旧シ", "ステム"]),
    ("あいう、えお", 6, ["あい", "う、え", "お"]),  # 、 never starts a line
    ("あい（うえ）お", 6, ["あい", "（う", "え）お"]),  # （ never ends a line, ） never starts one
    ("the mapping file OUT/ikou.duckdb", 12, ["the mapping", "file", "OUT/ikou.duckdb"]),
    ("出力 ikou.duckdb です", 12, ["出力", "ikou.duckdb", "です"]),
])
def test_wrapping_by_display_width(text, width, lines):
    from ikou.textwidth import wrap_display
    assert wrap_display(text, width) == lines


def test_every_japanese_help_line_fits_the_terminal(monkeypatch):
    from ikou.textwidth import display_width
    monkeypatch.setenv("IKOU_LANG", "ja")
    for command in ("migrate", "report", "diff", "inspect", "export"):
        result = CliRunner().invoke(cli, [command, "--help"], terminal_width=80)
        assert result.exit_code == 0
        too_wide = [line for line in result.output.splitlines() if display_width(line) > 80
                    and " " in line.strip()]  # a single unbreakable path may run over
        assert not too_wide, too_wide


def test_the_run_summary_and_the_report_read_in_japanese_with_aligned_columns(export_dir, tmp_path):
    """--lang ja: the text a person reads after a run (summary, report) has Japanese labels, its
    per-file table's columns line up by display width, and the same run in English still reads
    as before (the golden text test holds that one)."""
    from ikou.textwidth import display_width
    from tests.conftest import MAPPING, run_cli

    out = tmp_path / "out"
    result = run_cli("--lang", "ja", "migrate", "--mapping", MAPPING, "--input", export_dir, "--out", out)
    assert result.exit_code in (0, 1), result.output
    text = result.output
    for label in ("理由ごとのリジェクト:", "リジェクト率", "終了コード", "コード表（旧コード"):
        assert label in text, label
    table = [line for line in text.splitlines() if line.startswith("  ファイル") or line.startswith("  合計")]
    head, total = table[0], table[-1]
    assert head.split()[-1] == "照合" and total.split()[-1] in ("一致", "不一致")
    assert display_width(head) == display_width(total)  # columns aligned by display width
    report = run_cli("--lang", "ja", "report", out).output
    assert "の照合レポート" in report and "理由ごとのリジェクト:" in report and "reject" not in report.split("\n")[0]
    english = run_cli("--lang", "en", "report", out).output
    assert english.startswith("reconciliation report for")
