"""recipebench validate / show on the catalog and on broken recipes."""

import subprocess
import sys

import yaml

from tests.conftest import REPO


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "recipebench", *args], cwd=REPO, capture_output=True, text=True,
                          env=env)


def test_validate_catalog_exits_zero():
    result = run("validate")
    assert result.returncode == 0, result.stderr
    assert "8 valid, 0 problem(s)" in result.stdout


def test_validate_names_file_and_field_of_a_broken_recipe(scratch_recipes):
    bad = scratch_recipes / "sglang-a3ultra-llama4-scout.yaml"
    bad.write_text(bad.read_text().replace("precision: bf16", "precision: bf17"))
    result = run("validate", "--recipes-only", "--dir", str(scratch_recipes))
    assert result.returncode != 0
    assert str(bad) in result.stderr and "field model.precision" in result.stderr
    assert "7 valid, 1 problem(s)" in result.stdout


def test_show_prints_the_resolved_recipe():
    result = run("show", "sglang-a3mega-deepseek-r1-lws")
    data = yaml.safe_load(result.stdout)
    assert data["serving"]["args"]["host"] == "0.0.0.0" and data["gpus"] == 16 and len(data["fingerprint"]) == 16


def test_show_unknown_recipe():
    result = run("show", "nope")
    assert result.returncode == 2 and "no recipe 'nope'" in result.stderr
