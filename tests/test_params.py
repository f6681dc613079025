"""Trigger params: the form refuses bad values; apply_params turns good ones into a run's recipe."""

import pytest
from airflow.sdk import Param
from airflow.sdk.definitions.param import ParamValidationError
from recipebench.catalog.params import apply_params, build_run_config, form_schema
from recipebench.catalog.recipe import RecipeError, load_recipe


def _params(recipe_id):
    return {k: Param(v.pop("default"), **v) for k, v in ((k, dict(v)) for k, v in form_schema(load_recipe(recipe_id)).items())}


@pytest.mark.parametrize("name, bad", [
    ("model", "meta-llama/Llama-2-7b"),
    ("image_tag", "bad tag!"),
    ("input_len", 0),
    ("output_len", 10**7),
    ("concurrency", [0]),
    ("concurrency", [8, 8]),
    ("concurrency", "64"),
    ("num_prompts", -5),
    ("keep_alive", "yes"),
])
def test_form_refuses_bad_values(name, bad):
    params = _params("sglang-a3ultra-llama4-scout")
    with pytest.raises(ParamValidationError):
        params[name].resolve(bad)


def test_form_accepts_good_values():
    params = _params("sglang-a3ultra-llama4-scout")
    assert params["model"].resolve("meta-llama/Llama-4-Scout-17B-16E") == "meta-llama/Llama-4-Scout-17B-16E"
    assert params["concurrency"].resolve([1, 8, 64]) == [1, 8, 64]
    assert params["input_len"].resolve(None) is None
    for p in params.values():  # defaults are valid
        p.resolve()


def test_model_param_only_where_there_are_variants():
    assert "model" not in form_schema(load_recipe("vllm-a4-deepseek-r1"))
    assert form_schema(load_recipe("sglang-a3ultra-llama4-maverick"))["model"]["enum"][0].endswith("Instruct")


def test_apply_params_builds_the_sweep():
    recipe = load_recipe("vllm-a4-deepseek-r1")
    run = apply_params(recipe, {"concurrency": [1, 64], "input_len": 2000, "image_tag": "v0.9.2"})
    assert [(p.input_len, p.output_len, p.concurrency) for p in run.benchmark.points] == [(2000, 1000, 1), (2000, 1000, 64)]
    assert run.image.tag == "v0.9.2" and run.fingerprint() != recipe.fingerprint()


@pytest.mark.parametrize("params, field", [
    ({"model": "x/y"}, "field model"),
    ({"input_len": "long"}, "field input_len"),
    ({"concurrency": [0]}, "field concurrency"),
    ({"image_tag": "no spaces"}, "field image.tag"),
    ({"gpus": 4}, "unknown param"),
])
def test_apply_params_errors_name_the_param(params, field):
    with pytest.raises(RecipeError, match=field):
        apply_params(load_recipe("sglang-a3ultra-llama4-scout"), params)


def test_run_config_labels_and_expiry():
    run = build_run_config(load_recipe("vllm-a4-deepseek-r1"), {"keep_alive": True}, "rabc", "manual__x", "manual", now=1000)
    assert run.labels["app.kubernetes.io/managed-by"] == "recipebench"
    assert run.labels["recipebench.dev/run"] == "rabc"
    short = build_run_config(load_recipe("vllm-a4-deepseek-r1"), {}, "rabc", "manual__x", "manual", now=1000)
    assert run.expires_at - short.expires_at == 8 * 3600


def test_a_misspelt_param_names_the_nearest_one():
    from recipebench.catalog.params import apply_params
    from recipebench.catalog.recipe import RecipeError, load_recipe

    with pytest.raises(RecipeError, match=r"unknown param\(s\) 'concurency' \('concurency': did you mean "
                                          r"'concurrency'\?\)"):
        apply_params(load_recipe("vllm-a4-deepseek-r1"), {"concurency": ["8"]})


def test_a_points_rerun_command_runs_that_point_again():
    """The command line and the REST conf a results row offers run exactly its point, with its image tag,
    trials and warm-up (and the command line reads back to the same params)."""
    import json
    import shlex

    from recipebench.catalog.params import rerun_commands, rerun_params
    from recipebench.cli.main import parse_params

    recipe = load_recipe("sglang-a3ultra-llama4-scout")
    point = {"input_len": 1000, "output_len": 200, "num_prompts": 2000, "concurrency": 64, "request_rate": None}
    params = rerun_params(point, "v0.4.6.post4-cu124", None, 3, 128)
    made = rerun_commands(recipe.id, params)
    argv = shlex.split(made["cli"])
    assert argv[:3] == ["recipebench", "run", recipe.id]
    assert parse_params(argv[4::2]) == params
    again = apply_params(recipe, params)
    (only,) = again.benchmark.points
    assert (only.input_len, only.output_len, only.num_prompts, only.concurrency) == (1000, 200, 2000, 64)
    assert (again.image.tag, again.benchmark.repeats, again.benchmark.warmup_requests) == ("v0.4.6.post4-cu124", 3, 128)
    body = json.loads(shlex.split(made["rest"].split(" -d ", 1)[1])[0])
    assert body == {"logical_date": None, "conf": params} and f"/api/v2/dags/{recipe.id}/dagRuns" in made["rest"]


# -- plans that fit their limits (issue 25, items 7 and 8) -----------------------------------------

def test_levels_the_recipe_did_not_plan_scale_their_prompts_to_the_point_limit():
    """Concurrency 1 with the plan's 1,100 prompts of 1,000 tokens would run for hours past a 60-minute
    point limit: its prompts scale down to whole waves that fit (80 ms per token, the SLO's TPOT limit:
    45 sequential requests of 80 s); an unbounded level keeps the plan's."""
    from recipebench.catalog.estimate import point_seconds

    recipe = load_recipe("vllm-a4-deepseek-r1")
    swept = apply_params(recipe, {"concurrency": ["1", "64", "unbounded"]})
    prompts = {p.concurrency: p.num_prompts for p in swept.benchmark.points}
    assert prompts == {1: 45, 64: 1100, None: 1100}
    assert all(point_seconds(p, 80.0).seconds <= 60 * 60 for p in swept.benchmark.points)


def test_prompts_given_that_cannot_fit_are_refused_with_what_would():
    with pytest.raises(RecipeError, match=r"point i1000-o1000-c1-rinf-n2000: 2,000 prompts at concurrency 1 are "
                                          r"2,000 waves of 1,000 output tokens, about 44\.4 h at its SLO's TPOT "
                                          r"limit, 80 ms, past its 60-minute limit: send at most 45 prompts"):
        apply_params(load_recipe("vllm-a4-deepseek-r1"), {"concurrency": ["1"], "num_prompts": 2000})


def test_the_form_says_each_range_in_words_and_the_plans_cost():
    schema = form_schema(load_recipe("vllm-a4-deepseek-r1"))
    assert "1 to 1,048,576" in schema["input_len"]["description"] and "0 to " in schema["warmup_requests"]["description"]
    assert "up to 128 characters" in schema["image_tag"]["description"]
    assert "GPU-hours on 8 GPUs" in schema["num_prompts"]["description"]
    assert "at its SLO's TPOT limit, 80 ms" in schema["num_prompts"]["description"]
    with pytest.raises(RecipeError, match=r"field image.tag: 'bad tag!' is not an image tag \(letters, digits"):
        apply_params(load_recipe("vllm-a4-deepseek-r1"), {"image_tag": "bad tag!"})


def test_every_recipes_own_plan_fits_its_point_limit():
    from recipebench.catalog.estimate import over_limit, tpot_pace
    from recipebench.catalog.recipe import load_catalog

    good, _ = load_catalog()
    for recipe in good.values():
        assert not over_limit(recipe.benchmark.points, tpot_pace(recipe.slo.limits)[0], recipe.timeouts.point_minutes), \
            recipe.id
