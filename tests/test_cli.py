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


def test_render_prints_a_valid_yaml_stream():
    result = run("render", "sglang-a3mega-deepseek-r1-lws", "--run-id", "rtest00001")
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert [d["kind"] for d in docs] == ["ConfigMap", "LeaderWorkerSet", "Service", "Job", "Job"]  # a point, the staging
    assert all(d["metadata"]["labels"]["recipebench.dev/run"] == "rtest00001" for d in docs)


def test_render_set_overrides_and_bad_values_name_the_field():
    ok = run("render", "vllm-a4-deepseek-r1", "--set", "serving.args.max-num-seqs=512")
    assert ok.returncode == 0 and "'512'" in ok.stdout
    bad = run("render", "vllm-a4-deepseek-r1", "--set", "serving.port=70000")
    assert bad.returncode == 2 and "field serving.port" in bad.stderr
    broken = run("render", "dynamo-a4x-deepseek-r1-1p1d", "--set", "image.frontend=null")
    assert broken.returncode == 2
    assert "DynamoGraphDeployment/" in broken.stderr and "mainContainer.image" in broken.stderr


def test_run_refuses_a_scenario_it_cannot_honour():
    import os

    unknown = run("run", "vllm-a4-deepseek-r1", "--scenario", "saturates-late")
    assert unknown.returncode == 1 and "--scenario: unknown simulator scenario 'saturates-late'" in unknown.stderr
    real = run("run", "vllm-a4-deepseek-r1", "--scenario", "saturates-early",
               env={**os.environ, "RECIPEBENCH_CLUSTER": "gke"})
    assert real.returncode == 1 and "RECIPEBENCH_CLUSTER names a real one" in real.stderr
