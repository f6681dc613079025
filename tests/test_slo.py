"""SLOs, goodput and the capacity search (issue 23): the recipe's limits and their defaults, goodput and
attainment from each tool's per-request records, the search as a pure decision, and the simulated
server's load model it is tested against."""

import json

import pytest
from recipebench.catalog.recipe import RecipeError, load_recipe
from recipebench.catalog.slo import SearchSpec, SloSpec, default_slo
from recipebench.parsers import parse
from recipebench.parsers.requests import parse_requests
from recipebench.results import search
from recipebench.results.search import Step
from recipebench.results.slo import judge

from tests.conftest import REPO

SAMPLES = REPO / "tests" / "samples"
FIXTURES = REPO / "tests" / "fixtures" / "bench-outputs"


def slo(**limits):
    return SloSpec.model_validate({**limits, "source": "test"})


# --- the recipe's SLO ---------------------------------------------------------------------------------

def test_every_recipe_has_the_model_layers_slo_with_its_source():
    recipe = load_recipe("sglang-a3ultra-deepseek-r1")
    assert recipe.slo.limits == {"ttft_p99_ms": 2000.0, "tpot_p99_ms": 80.0}
    assert "MLPerf" in recipe.slo.source and recipe.slo.describe() == "TTFT p99 <= 2 s, TPOT p99 <= 80 ms"
    assert "no MLPerf scenario for this model" in default_slo("meta-llama/Llama-4-Scout-17B-16E-Instruct")["source"]


def test_a_recipe_changes_drops_and_misspells_limits():
    from recipebench.catalog.recipe import resolve

    base = load_recipe("vllm-a4-deepseek-r1").model_dump(mode="json", exclude={"id"})
    changed = resolve("vllm-a4-deepseek-r1", {**base, "slo": {"ttft_p90_ms": 500, "tpot_p99_ms": None,
                                                               "source": "our interactive tier"}}, "r.yaml")
    # deep-merged over the default: TTFT p99 stays, TPOT p99 is dropped, TTFT p90 is added
    assert changed.slo.limits == {"ttft_p99_ms": 2000.0, "ttft_p90_ms": 500.0}
    with pytest.raises(RecipeError, match=r"unknown SLO key\(s\) 'ttft_p98_ms': a limit is <ttft\|tpot\|itl\|e2e>"):
        resolve("vllm-a4-deepseek-r1", {**base, "slo": {"ttft_p98_ms": 100}}, "r.yaml")


def test_the_trigger_form_changes_the_limits_at_the_recipes_percentile():
    from recipebench.catalog.params import apply_params, form_schema

    recipe = load_recipe("vllm-a4-deepseek-r1")
    assert form_schema(recipe)["slo_ttft_ms"]["default"] == 2000.0
    run = apply_params(recipe, {"slo_ttft_ms": 1500, "slo_tpot_ms": 15})
    assert run.slo.limits == {"ttft_p99_ms": 1500.0, "tpot_p99_ms": 15.0} and "trigger params" in run.slo.source
    with pytest.raises(RecipeError, match="field slo_tpot_ms: -1 is not a number of milliseconds above 0"):
        apply_params(recipe, {"slo_tpot_ms": -1})


# --- goodput and attainment from each tool's per-request records -----------------------------------------

def _judged(path, limits):
    text = path.read_text()
    record = parse(text, str(path)).records[-1]
    return judge(record, parse_requests(text, str(path)), slo(**limits))


def test_sglang_output_details():
    """10 requests, 2 failed; TTFTs 120..210 ms, each request's 99 gaps of 40 ms (TPOT 40 ms), 12.5 s."""
    got = _judged(SAMPLES / "sglang-output-details.jsonl", {"ttft_p99_ms": 200, "tpot_p99_ms": 45})
    assert got["slo_attainment"] == pytest.approx(7 / 10)  # 210 ms is over; a failed request meets nothing
    assert got["goodput_request_throughput"] == pytest.approx(7 / 12.5)
    assert got["goodput_output_throughput"] == pytest.approx(700 / 12.5)
    # p99 of the 8 TTFTs, linear: 200 + 0.93 x 10
    assert got["slo_met"] is False and "TTFT p99 209.3 ms > 200" in got["slo_detail"]


def test_vllm_save_detailed():
    got = _judged(SAMPLES / "vllm-save-detailed.json", {"ttft_p99_ms": 250, "tpot_p99_ms": 60})
    assert got["slo_attainment"] == pytest.approx(2 / 4)  # TPOT 30, 50 ms pass; 70 ms fails; one failed
    assert (got["goodput_request_throughput"], got["goodput_output_throughput"]) == (pytest.approx(0.2),
                                                                                      pytest.approx(0.8))
    assert got["slo_met"] is False and "TTFT p99 298.0 ms > 250" in got["slo_detail"]


def test_trtllm_bench_request_json_at_a_p90_and_an_e2e_limit():
    got = _judged(SAMPLES / "trtllm-request.json", {"ttft_p90_ms": 125, "e2e_p99_ms": 1500})
    assert got["slo_attainment"] == pytest.approx(3 / 5)  # TTFTs 100..140 ms
    assert got["slo_met"] is False and "TTFT p90 136.0 ms > 125" in got["slo_detail"]


def test_aiperf_records_of_a_real_run_with_cancellations():
    path = FIXTURES / "aiperf" / "example-run1-gpt-oss-20b-cancellations_profile_export.first12.jsonl"
    requests = parse_requests(path.read_text(), str(path))
    assert len(requests) == 12 and [r.ok for r in requests].count(True) == 1
    (ok,) = [r for r in requests if r.ok]
    assert (ok.ttft_ms, ok.e2e_ms, ok.output_tokens) == (1680.543782, 7936.968269, 193)
    got = judge({"duration_s": 10.0}, requests, slo(ttft_p99_ms=2000, tpot_p99_ms=80))
    assert got["slo_attainment"] == pytest.approx(1 / 12) and got["slo_met"] is True


def test_without_per_request_records_the_summary_decides_and_a_p95_is_unknown():
    record = {"ttft_p99_ms": 1500.0, "tpot_p99_ms": 90.0, "duration_s": 100.0}
    got = judge(record, None, slo(ttft_p99_ms=2000, tpot_p99_ms=80))
    assert got["slo_met"] is False and got["slo_attainment"] is None and "from the summary" in got["slo_detail"]
    assert judge(record, None, slo(ttft_p95_ms=2000))["slo_met"] is None


def test_the_tools_own_goodput_is_kept_and_a_difference_said():
    text = (SAMPLES / "vllm-save-detailed.json").read_text()
    obj = json.loads(text) | {"request_goodput": 0.3}
    record = parse(json.dumps(obj), "r.json").records[-1]
    got = judge(record, parse_requests(json.dumps(obj), "r.json"), slo(ttft_p99_ms=250, tpot_p99_ms=60))
    assert got["tool_request_goodput"] == 0.3 and "the tool's own goodput 0.30 req/s differs from ours 0.20" in \
        got["slo_detail"]


def test_aiperfs_own_goodput_is_read_from_its_export():
    export = json.loads((FIXTURES / "aiperf" / "v0.8.0-mockserver-chat-c4_profile_export_aiperf.json").read_text())
    export["goodput"] = {"unit": "requests/sec", "avg": 4.5}
    record = parse(json.dumps(export), "e.json").records[-1]
    assert judge(record, None, slo(ttft_p99_ms=2000))["tool_request_goodput"] == 4.5


def test_a_cut_per_request_file_is_refused_naming_the_arrays():
    obj = json.loads((SAMPLES / "vllm-save-detailed.json").read_text())
    obj["ttfts"] = obj["ttfts"][:2]
    from recipebench.parsers import ParseError

    with pytest.raises(ParseError, match=r"arrays of different lengths \(ttfts 2, itls 4"):
        parse_requests(json.dumps(obj), "r.json")


# --- the search, as a pure decision -----------------------------------------------------------------------

SPEC = SearchSpec(load="concurrency", low=32, high=1024, input_len=1000, output_len=1000, max_steps=8)


def run_search(spec, passes):
    steps = []
    while (load := search.next_load(spec, steps)) is not None:
        ok = passes(load)
        steps.append(Step(len(steps) + 1, load, ok, None if ok else "SLO not met", load * 10, load))
    return steps, search.outcome(spec, steps)


def test_bracketing_then_bisection_to_the_tolerance():
    steps, found = run_search(SPEC, lambda load: load <= 400)
    assert [s.load for s in steps] == [32, 64, 128, 256, 512, 384, 448, 416]
    assert (found["capacity_load"], found["failed_load"], found["converged"]) == (384, 416, True)
    assert found["capacity_output_throughput"] == 3840 and found["steps"] == 8


def test_the_step_budget_stops_a_search_that_has_not_narrowed():
    spec = SPEC.model_copy(update={"max_steps": 6, "tolerance": 0.01})
    steps, found = run_search(spec, lambda load: load <= 400)
    assert len(steps) == 6 and found["converged"] is False and "stopped after 6 steps" in found["note"]
    assert found["capacity_load"] == 384


def test_the_bounds_end_a_search():
    _, everything = run_search(SPEC, lambda load: True)
    assert everything["capacity_load"] == 1024 and everything["converged"] and "at least that" in everything["note"]
    steps, nothing = run_search(SPEC, lambda load: False)
    assert len(steps) == 1 and nothing["capacity_load"] is None and "even the lowest load (32) failed" in nothing["note"]


def test_noise_near_the_boundary_never_puts_the_capacity_above_a_failed_load():
    """A load near the boundary passes or fails by chance: a failure below the true capacity (384 here)
    makes the search settle below it, never above a load that failed."""
    steps, found = run_search(SPEC, lambda load: load <= 400 and load != 384)
    assert [s.load for s in steps] == [32, 64, 128, 256, 512, 384, 320, 352]
    assert found["capacity_load"] == 352 and found["failed_load"] == 384
    assert all(s.load <= found["capacity_load"] for s in steps if s.passed)


def test_a_pass_above_a_failure_is_recorded_but_not_believed():
    steps = [Step(1, 32, True), Step(2, 64, False, "SLO not met"), Step(3, 128, True)]
    found = search.outcome(SPEC, steps)
    assert found["capacity_load"] == 32 and found["failed_load"] == 64
    assert "not believed (above a failed load: noise near the boundary): step 3 at 128 passed" in found["note"]
    assert search.next_load(SPEC, steps) == 48


def test_a_rate_search_bisects_in_requests_per_second():
    spec = SearchSpec(load="request_rate", low=1, high=64, input_len=1000, output_len=1000, max_steps=10)
    steps, found = run_search(spec, lambda rate: rate <= 6.3)
    assert [s.load for s in steps][:5] == [1, 2, 4, 8, 6] and found["converged"]
    assert 6 <= found["capacity_load"] <= 6.3 < found["failed_load"]


def test_a_search_spec_refuses_bounds_that_cannot_be_searched():
    with pytest.raises(ValueError, match=r"search.high \(8\) must be above search.low \(8\)"):
        SearchSpec(low=8, high=8, input_len=1, output_len=1)
    with pytest.raises(ValueError, match="whole numbers of requests"):
        SearchSpec(low=1.5, high=8, input_len=1, output_len=1)


# --- the simulated server's load model ----------------------------------------------------------------------

def _at(concurrency, capacity=1.0):
    from recipebench.sim.outputs import Load, measured

    return measured(Load(1000, 1000, concurrency, None, max(1000, 4 * concurrency), capacity=capacity), "seed")


def test_the_simulated_server_queues_batches_and_flattens_like_the_recorded_sweeps():
    points = [_at(c) for c in (8, 64, 256, 512, 768)]
    tpot = [m.tpot for m in points]
    tput = [m.out_tput for m in points]
    ttft_p99 = [m.q("ttft", 99) for m in points]
    assert tpot == sorted(tpot) and tpot[-2] > 4 * tpot[0]  # TPOT rises with the batch
    assert tput[1] > 4 * tput[0] and tput[-1] < 1.05 * tput[-2]  # throughput flattens at the KV cache's size
    assert ttft_p99[-1] > 50 * ttft_p99[-2]  # past it, requests queue for a slot
    assert points[3].q("ttft", 99) / points[3].q("ttft", 50) > points[0].q("ttft", 99) / points[0].q("ttft", 50)


def test_saturates_early_halves_the_capacity_the_search_finds():
    from recipebench.catalog.metrics import percentile

    def passes(capacity):
        def check(load):
            m = _at(int(load), capacity)
            return m.q("ttft", 99) <= 2000 and percentile([r[1] for r in m.requests], 99) <= 80
        return check

    full = run_search(SPEC, passes(1.0))[1]["capacity_load"]
    half = run_search(SPEC, passes(0.5))[1]["capacity_load"]
    assert 0.4 * full <= half <= 0.6 * full, (full, half)


# --- against the simulated cluster ----------------------------------------------------------------------------

def searched_recipe() -> str:
    """The catalog's sglang DeepSeek-R1 recipe with one trial, one point and a five-step search."""
    import yaml

    raw = yaml.safe_load((REPO / "include" / "recipes" / "sglang-a3ultra-deepseek-r1.yaml").read_text())
    raw["benchmark"] |= {"repeats": 1, "points": [{"input_len": 1000, "output_len": 1000, "concurrency": 64,
                                                    "num_prompts": 1000}],
                         "search": {"load": "concurrency", "low": 128, "high": 512, "input_len": 1000,
                                    "output_len": 1000, "max_steps": 5}}
    raw.pop("schedule", None)
    return yaml.safe_dump(raw)


@pytest.mark.e2e
def test_the_search_runs_on_the_deployed_server_and_a_halved_capacity_is_alerted(cluster_env, scratch_recipes,
                                                                                   monkeypatch):
    from recipebench.results.warehouse import open_warehouse

    from tests.conftest import run

    (scratch_recipes / "searched.yaml").write_text(searched_recipe())
    monkeypatch.setenv("RECIPEBENCH_MIN_BASELINE_RUNS", "1")
    first = run("searched")
    assert first["status"] == "success", first
    wh = open_warehouse()
    (cap,) = wh.run(f"SELECT * FROM capacity WHERE run_id = '{first['run_id']}'")
    # 128 and 256 pass, 512 fails (TPOT p99 over 80 ms), then 384 passes and 448 fails: five steps
    assert (cap["capacity_load"], cap["failed_load"], cap["steps"]) == (384, 448, 5), cap
    assert cap["slo"] == "tpot_p99_ms<=80,ttft_p99_ms<=2000" and "TPOT p99" in cap["failed_reason"]
    assert cap["capacity_output_throughput_per_gpu"] > 500
    steps = wh.run(f"SELECT point_id, search_step, slo_met, slo_attainment FROM results WHERE run_id = "
                   f"'{first['run_id']}' AND search_step IS NOT NULL ORDER BY search_step")
    assert [s["search_step"] for s in steps] == [1, 2, 3, 4, 5] and steps[2]["point_id"].startswith("s3-")
    assert [s["slo_met"] for s in steps] == [True, True, False, True, False]
    assert all(0 < s["slo_attainment"] <= 1 for s in steps)

    monkeypatch.setenv("RECIPEBENCH_SIM_SCENARIO", "saturates-early")
    second = run("searched")
    (cap2,) = wh.run(f"SELECT capacity_load FROM capacity WHERE run_id = '{second['run_id']}'")
    assert cap2["capacity_load"] < 0.7 * cap["capacity_load"]
    (verdict,) = wh.run(f"SELECT verdict FROM verdicts WHERE run_id = '{second['run_id']}' AND point_id = 'capacity'")
    assert verdict["verdict"] == "regressed"
    (alert,) = wh.run(f"SELECT message FROM alerts WHERE run_id = '{second['run_id']}' AND kind = 'regression'")
    assert "capacity at TTFT p99 <= 2 s, TPOT p99 <= 80 ms fell" in alert["message"]
    assert "384 -> " in alert["message"] and "concurrent requests" in alert["message"], alert["message"]

    # the results pages lead with it: the recipe's capacity trend (the fall ringed) and the search's steps
    # against the SLO's limits; the overview's latest capacity per recipe
    import re

    from fastapi.testclient import TestClient
    from recipebench.ui import app as appmod

    class Viewer:
        def get_name(self):
            return "viewer"

    monkeypatch.setattr(appmod, "_warehouse", lambda: wh)
    monkeypatch.setattr(appmod, "allowed", lambda user, ids: set(ids))
    app = appmod.create_app()
    app.dependency_overrides[appmod.current_user] = Viewer
    ui = TestClient(app)
    page = ui.get(f"/recipes/searched?run={first['run_id']}").text
    drawn = dict(re.findall(r'data-chart="([^"]+)" data-series="(\d+)" data-points="\d+"', page))
    assert drawn["capacity-trend"] == "1" and drawn["capacity-steps"] == "3"  # TTFT, TPOT and the boundary
    assert "Capacity at the SLO" in page and "at 384 concurrent requests" in page
    latest = ui.get("/recipes/searched").text
    assert 'class="regression"' in latest and f"at {cap2['capacity_load']:.0f} concurrent requests" in latest
    overview = ui.get("/").text
    assert re.search(r'class="num capacity"><b>[\d,.]+</b> tok/s/GPU', overview), overview


def test_a_bursts_median_ttft_is_as_steady_as_the_queue_that_makes_it():
    """All 1,100 prompts at once into a 512-request cache: the median TTFT is the queue's, so it moves by
    little from seed to seed (a random wait per request moved it 6-8% and was called a regression)."""
    from recipebench.sim.outputs import Load, measured

    medians = [measured(Load(1000, 1000, None, None, 1100), f"night-{i}").q("ttft", 50) for i in range(10)]
    assert (max(medians) - min(medians)) / min(medians) < 0.02, medians
