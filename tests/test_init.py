"""ikou init: the scaffolded mapping repository validates as written (the command its CI file
runs), a group scaffold migrates with migrate-group, and bad arguments are a user's error."""

from __future__ import annotations

import json

import yaml

from tests.conftest import run_cli


def test_a_municipality_scaffold_validates_as_its_ci_would(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    result = run_cli("init", repo, "--member", "372013:高松市")
    assert result.exit_code == 0, result.output
    for rel in ("README.md", ".gitignore", ".ikou-root", "gaiji/gaiji.tsv", "mappings/372013_resident.yaml",
                ".github/workflows/ikou-validate.yml", ".gitlab-ci.yml"):
        assert (repo / rel).is_file(), rel
    assert list((repo / "samples" / "372013").glob("JUMIN_*.csv"))
    mapping = yaml.safe_load((repo / "mappings" / "372013_resident.yaml").read_text(encoding="utf-8"))
    assert mapping["municipality"] == {"code": "372013", "name": "高松市"}
    assert mapping["gaiji"]["table"] == "../gaiji/gaiji.tsv"
    # the CI files name every mapping with its sample, and parse
    github = yaml.safe_load((repo / ".github" / "workflows" / "ikou-validate.yml").read_text(encoding="utf-8"))
    script = next(s["run"] for s in github["jobs"]["validate"]["steps"] if s.get("name") == "ikou validate")
    assert "--mapping mappings/372013_resident.yaml --input samples/372013" in script
    gitlab = yaml.safe_load((repo / ".gitlab-ci.yml").read_text(encoding="utf-8"))
    assert any("samples/372013" in line for line in gitlab["ikou-validate"]["script"])
    readme = (repo / "README.md").read_text(encoding="utf-8")
    assert "高松市" in readme and "最初にすること" in readme and "架空のデータ" in readme
    # what the CI file runs, from the repository's root
    monkeypatch.chdir(repo)
    result = run_cli("validate", "--mapping", "mappings/372013_resident.yaml", "--input", "samples/372013",
                     "--junit", "reports/372013.xml", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["totals"]["landed"] > 900


def test_a_group_scaffold_migrates_with_migrate_group(tmp_path):
    repo = tmp_path / "repo"
    assert run_cli("init", repo, "--group", "kagawa", "--group-name", "香川クラウド",
                   "--member", "372013:高松市", "--member", "372021:丸亀市").exit_code == 0
    group = yaml.safe_load((repo / "mappings" / "group.yaml").read_text(encoding="utf-8"))
    assert group["group"] == {"id": "kagawa", "name": "香川クラウド"}
    assert [m["code"] for m in group["members"]] == ["372013", "372021"]
    result = run_cli("migrate-group", repo / "mappings" / "group.yaml", "--input-root", repo / "samples",
                     "--out", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["succeeded"] == ["372013", "372021"]


def test_init_refuses_a_folder_with_files_and_a_bad_member(tmp_path):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x.txt").write_text("x", encoding="utf-8")
    result = run_cli("init", tmp_path / "used")
    assert result.exit_code == 2 and "not an empty folder" in result.output
    result = run_cli("init", tmp_path / "new", "--member", "高松市")
    assert result.exit_code == 2 and "CODE:NAME" in result.output
    assert not (tmp_path / "new").exists()
    result = run_cli("init", tmp_path / "new", "--member", "372013:高松市", "--member", "372013:高松市")
    assert result.exit_code == 2 and not (tmp_path / "new").exists()


def test_the_default_scaffold_needs_no_options(tmp_path):
    result = run_cli("init", tmp_path / "repo", "--no-samples")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "repo" / "mappings" / "991015_resident.yaml").is_file()
    assert not (tmp_path / "repo" / "samples").exists()
