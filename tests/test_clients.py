"""A benchmark client is one class in one list (recipebench.clients): a new one added in one place
validates in a recipe, renders, runs against the simulated cluster and is parsed."""

import pytest
from recipebench import clients
from recipebench.clients.vllm import VllmBenchServe

from tests.conftest import run, runs_row


class EchoBench(VllmBenchServe):
    """A client that exists only here: its own command, vLLM's result format."""

    name = "echo-bench"
    runs = "echo-bench"

    def argv(self, recipe, point, host, port):
        return ["echo-bench", "--url", f"http://{host}:{port}", "--prompts", str(point.num_prompts),
                *self.length_flags(recipe.benchmark.lengths, point), "--save", "/results/result.json"]


@pytest.fixture
def echo(monkeypatch):
    monkeypatch.setattr(clients.REGISTRY, "entries", [*clients.CLIENTS])
    clients.register(EchoBench())
    return clients.client("echo-bench")


def test_every_client_is_registered_once_and_the_schema_takes_its_names_from_there():
    from recipebench.catalog.recipe import RecipeError, load_recipe, resolve

    assert sorted(clients.names()) == sorted({c.name for c in clients.CLIENTS})
    base = load_recipe("vllm-a4-deepseek-r1").model_dump(mode="json", exclude={"id"})
    base["benchmark"]["tool"] = "no-such-bench"
    with pytest.raises(RecipeError, match="no benchmark client 'no-such-bench'; known: sglang-bench-serving"):
        resolve("vllm-a4-deepseek-r1", base, "test")


def test_a_new_client_in_one_place_validates_renders_runs_and_parses(echo, scratch_recipes, cluster_env):
    text = (scratch_recipes / "vllm-a4-deepseek-r1.yaml").read_text()
    (scratch_recipes / "vllm-a4-echo.yaml").write_text(text.replace("benchmark:\n", "benchmark:\n  tool: echo-bench\n", 1))
    from recipebench.catalog.recipe import load_recipe
    from recipebench.manifests.render import example_run, render_bench_job

    recipe = load_recipe("vllm-a4-echo", scratch_recipes)
    assert recipe.benchmark.client is echo
    job = render_bench_job(example_run(recipe), recipe.benchmark.points[0], 0)
    assert "echo-bench --url http://" in job["spec"]["template"]["spec"]["containers"][0]["command"][2]
    result = run("vllm-a4-echo")
    assert result["status"] == "success" and result["result_rows"] == 1, result
    assert runs_row(result["run_id"])["status"] == "success"
    from recipebench.results.warehouse import open_warehouse

    (row,) = open_warehouse().run(f"SELECT tool, output_throughput FROM results WHERE run_id = '{result['run_id']}'")
    assert row["output_throughput"] > 0
