"""The recipe schema: layered defaults, strictness, errors that name file and field, fingerprint."""

import pytest
import yaml
from recipebench.catalog.accelerators import ACCELERATORS
from recipebench.catalog.recipe import RecipeError, load_catalog, load_recipe, load_recipe_file

EXPECTED = {
    "sglang-a3ultra-deepseek-r1": ("a3ultra", "sglang", "single-host", 8),
    "sglang-a3ultra-llama4-scout": ("a3ultra", "sglang", "single-host", 8),
    "sglang-a3ultra-llama4-maverick": ("a3ultra", "sglang", "single-host", 8),
    "sglang-a3mega-deepseek-r1-lws": ("a3mega", "sglang", "multi-host", 16),
    "trtllm-a4x-deepseek-r1-nvfp4": ("a4x", "trtllm", "offline", 4),
    "dynamo-a4x-deepseek-r1-1p1d": ("a4x", "dynamo", "disaggregated", 8),
    "dynamo-a4x-deepseek-r1-10p8d": ("a4x", "dynamo", "disaggregated", 72),
    "vllm-a4-deepseek-r1": ("a4", "vllm", "single-host", 8),
}


def test_catalog_is_the_eight_seed_recipes():
    good, broken = load_catalog()
    assert broken == {}
    assert {k: (r.accelerator, r.framework, r.topology.shape, r.gpu_count) for k, r in good.items()} == EXPECTED


def test_accelerator_catalog_facts():
    assert {(a.name, a.machine_type, a.gpus_per_node, a.arch) for a in ACCELERATORS.values()} == {
        ("a3ultra", "a3-ultragpu-8g", 8, "amd64"),
        ("a3mega", "a3-megagpu-8g", 8, "amd64"),
        ("a4", "a4-highgpu-8g", 8, "amd64"),
        ("a4x", "a4x-highgpu-4g", 4, "arm64"),
    }
    assert ACCELERATORS["a4x"].gke_accelerator == "nvidia-gb200"


def test_seed_benchmark_plans():
    assert [p.model_dump(exclude_defaults=True) for p in load_recipe("sglang-a3ultra-deepseek-r1").benchmark.points] == [
        {"input_len": 1000, "output_len": 1000, "num_prompts": 1100}]
    dyn = load_recipe("dynamo-a4x-deepseek-r1-1p1d").benchmark.points[0]
    assert (dyn.input_len, dyn.output_len, dyn.concurrency) == (8192, 1024, 512)
    trt = load_recipe("trtllm-a4x-deepseek-r1-nvfp4").benchmark.points[0]
    assert (trt.input_len, trt.output_len, trt.num_prompts) == (1024, 4096, 1000)  # values.yaml experiments


def test_layers_accelerator_then_framework_then_file():
    r = load_recipe("sglang-a3ultra-deepseek-r1")
    assert r.cluster.queue == "a3-ultra"  # accelerator layer
    assert r.serving.args["host"] == "0.0.0.0"  # framework layer
    assert r.serving.port == 8000  # the file overrides the framework's 30000
    assert load_recipe("sglang-a3mega-deepseek-r1-lws").serving.port == 30000
    assert load_recipe("sglang-a3mega-deepseek-r1-lws").cluster.queue is None  # file overrides accelerator


def _write(tmp_path, name, data):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _base():
    return yaml.safe_load(open(load_recipe.__globals__["DEFAULT_RECIPES_DIR"] / "vllm-a4-deepseek-r1.yaml"))


def test_unknown_key_names_file_and_field(tmp_path):
    data = _base()
    data["serving"]["portt"] = 1
    path = _write(tmp_path, "bad", data)
    with pytest.raises(RecipeError) as err:
        load_recipe_file(path)
    assert str(path) in str(err.value) and "field serving.portt" in str(err.value)
    assert "Extra inputs are not permitted" in str(err.value)


def test_bad_enum_names_file_and_field(tmp_path):
    data = _base()
    data["accelerator"] = "a5"
    data["model"]["precision"] = "int3"
    path = _write(tmp_path, "bad", data)
    with pytest.raises(RecipeError) as err:
        load_recipe_file(path)
    msg = str(err.value)
    assert "field accelerator" in msg and "'a5'" in msg
    assert "field model.precision" in msg and "'int3'" in msg


def test_bad_yaml_and_wrong_top_level(tmp_path):
    (tmp_path / "x.yaml").write_text("a: [1, 2\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe_file(tmp_path / "x.yaml")
    (tmp_path / "y.yaml").write_text("- 1\n")
    with pytest.raises(RecipeError, match="must hold a mapping"):
        load_recipe_file(tmp_path / "y.yaml")


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d["topology"].update(shape="multi-host", nodes=1), "multi-host topology needs nodes >= 2"),
    (lambda d: d["benchmark"].update(tool="trtllm-bench"), "does not fit the single-host shape"),
    (lambda d: d["benchmark"]["points"].append(dict(d["benchmark"]["points"][0])), "duplicate benchmark points"),
    (lambda d: d.update(schedule="every night"), "5-field cron"),
    (lambda d: d["benchmark"]["points"][0].update(input_len=0), "field benchmark.points.0.input_len"),
])
def test_semantic_checks(tmp_path, mutate, field):
    data = _base()
    mutate(data)
    with pytest.raises(RecipeError, match=field):
        load_recipe_file(_write(tmp_path, "bad", data))


def test_fingerprint_ignores_cosmetics_and_tracks_what_sets_the_numbers(tmp_path):
    base = load_recipe_file(_write(tmp_path, "a", _base()))
    cosmetic = _base()
    cosmetic.update(owner="someone-else", description="other words", schedule="0 4 * * *", tags=["x"])
    cosmetic["benchmark"]["points"].append({"input_len": 10, "output_len": 10, "num_prompts": 10})
    assert load_recipe_file(_write(tmp_path, "a", cosmetic)).fingerprint() == base.fingerprint()
    for mutate in (lambda d: d["image"].update(tag="v0.9.2"),
                   lambda d: d["serving"]["args"].update({"max-num-seqs": 512}),
                   lambda d: d["model"].update(name="deepseek-ai/DeepSeek-R1-0528")):
        data = _base()
        mutate(data)
        assert load_recipe_file(_write(tmp_path, "a", data)).fingerprint() != base.fingerprint()


def test_recipes_dir_env(scratch_recipes):
    (scratch_recipes / "vllm-a4-deepseek-r1.yaml").unlink()
    good, _ = load_catalog()
    assert "vllm-a4-deepseek-r1" not in good and len(good) == 7


def test_a_misspelt_field_is_refused_with_the_nearest_valid_name():
    from recipebench.catalog.recipe import RecipeError, load_recipe, resolve

    base = load_recipe("vllm-a4-deepseek-r1").model_dump(mode="json", exclude={"id"})
    point = {**base["benchmark"]["points"][0], "concurency": 4}
    with pytest.raises(RecipeError, match=r"field benchmark.points.0.concurency: Extra inputs are not permitted; "
                                          r"did you mean 'concurrency'\?"):
        resolve("vllm-a4-deepseek-r1", {**base, "benchmark": {**base["benchmark"], "points": [point]}}, "r.yaml")
    with pytest.raises(RecipeError, match=r"field timeouts.point_minute: .*did you mean 'point_minutes'\?"):
        resolve("vllm-a4-deepseek-r1", {**base, "timeouts": {"point_minute": 3}}, "r.yaml")
