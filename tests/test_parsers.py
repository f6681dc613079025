"""Golden tests: the numbers in our rows equal the numbers in each real output (units converted).

Every file in ../shared/fixtures/bench-outputs is covered (a test fails when a new one appears
without expectations), plus samples of ours for what no real file covers (tests/samples).
"""

import json

import pytest
from recipebench.parsers import ParseError, parse
from recipebench.parsers.detect import parse_file

from tests.conftest import FIXTURES, REPO

SAMPLES = REPO / "tests" / "samples"
approx = pytest.approx

# file -> (tool, number of records, {field of the first record (or "N.field" of record N): value})
GOLDEN = {
    "sglang/v0.4.5.post3-stdout-skypilot-prefixed-deepseek-r1-5k1k.txt": ("sglang-bench-serving", 1, {
        "completed": 50, "num_prompts": 50, "failed": 0, "input_len": 5000, "output_len": 1000, "request_rate": 10.0,
        "concurrency": None, "duration_s": 52.43, "total_input_tokens": 250000, "total_output_tokens": 50000,
        "request_throughput": 0.95, "input_throughput": 4768.41, "output_throughput": 953.68, "total_throughput": 5722.09,
        "e2e_mean_ms": 50367.48, "e2e_median_ms": 50484.17, "ttft_mean_ms": 5119.10, "ttft_median_ms": 5149.77,
        "ttft_p99_ms": 9858.42, "itl_median_ms": 39.63, "itl_p99_ms": 41.46, "tpot_median_ms": None,
        "extra.p95_itl_ms": 40.37, "extra.max_itl_ms": 12435.10, "extra.measured_concurrency": 48.03}),
    "sglang/2026-commit947927bd-stdout-glm5.1-throughput-c100.txt": ("sglang-bench-serving", 1, {
        "completed": 1000, "concurrency": 100, "request_rate": None, "output_throughput": 1214.97,
        "total_throughput": 2435.38, "e2e_p90_ms": 57009.82, "e2e_p99_ms": 68880.33, "tpot_mean_ms": 38.73,
        "tpot_median_ms": 36.52, "tpot_p99_ms": 67.09, "itl_mean_ms": 38.13, "extra.accept_length": 3.50,
        "extra.peak_output_token_throughput_tok_s": 2648.00, "extra.peak_concurrent_requests": 105}),
    "sglang/v0.4.0era-output-file-llama3.3-70b-online-7runs.jsonl": ("sglang-bench-serving", 7, {
        "request_rate": 1.0, "completed": 300, "output_throughput": 537.4142851849319,
        "ttft_median_ms": 85.74514742940664, "4.request_rate": 16.0, "4.completed": 3200,
        "4.ttft_median_ms": 614.2499720444903, "concurrency": None, "failed": None}),
    "sglang/v0.4.0era-output-file-llama3.3-70b-offline-inf-rate.jsonl": ("sglang-bench-serving", 7, {
        "request_rate": None, "extra.request_rate_reported": "inf", "completed": 3000, "input_len": 1024,
        "output_len": 1024, "total_input_tokens": 1525074, "e2e_mean_ms": 224918.79882259612,
        "itl_median_ms": 159.01175909675658, "duration_s": 341.72106836596504}),
    "vllm/v0.8.4-benchmark_serving-stdout-skypilot-prefixed-deepseek-r1-1k2k.txt": ("vllm-bench-serve", 1, {
        "completed": 50, "duration_s": 87.96, "total_output_tokens": 100000, "output_throughput": 1136.92,
        "total_throughput": 1705.38, "ttft_mean_ms": 599.89, "ttft_median_ms": 554.61, "ttft_p99_ms": 1325.85,
        "tpot_mean_ms": 42.40, "tpot_median_ms": 42.33, "itl_p99_ms": 42.89, "request_rate": 10.0,
        "input_len": 1000, "output_len": 2000}),
    "vllm/v0.9era-benchmark_serving-stdout-3rates-llmd.txt": ("vllm-bench-serve", 3, {
        "request_rate": 10.0, "completed": 300, "output_throughput": 2249.25, "ttft_median_ms": 53.00,
        "itl_p99_ms": 34.21, "1.request_rate": 30.0, "1.completed": 900, "1.output_throughput": 5914.31,
        "2.request_rate": None, "2.output_throughput": 11481.02, "2.ttft_median_ms": 877.08, "2.itl_p99_ms": 66.37}),
    "vllm/v0.9era-save-result-9runs.jsonl": ("vllm-bench-serve", 9, {
        "request_rate": 10.0, "completed": 300, "num_prompts": 300, "failed": 0, "input_len": 1000, "output_len": 500,
        "output_throughput": 2258.212337970085, "ttft_median_ms": 52.868896000063614, "extra.deployment": "no-features",
        "extra.request_goodput": None, "2.request_rate": None, "2.output_throughput": 8321.230575856995,
        "8.ttft_median_ms": 867.6726769999732}),
    "vllm/2026-vllm-bench-serve-stdout-minimax-m2-tp4-c16-pr43276.txt": ("vllm-bench-serve", 1, {
        "completed": 128, "failed": 0, "concurrency": 16, "duration_s": 152.04, "total_input_tokens": 1053440,
        "output_throughput": 862.09, "total_throughput": 7790.78, "ttft_p99_ms": 4043.75, "tpot_median_ms": 17.21,
        "itl_mean_ms": 22.76, "extra.peak_concurrent_requests": 26.00}),
    "dynamo/sa-bench-benchmark_serving-result-gpt-oss-120b-conc16-ctx8-gen8.json": ("vllm-bench-serve", 1, {
        "completed": 160, "num_prompts": 160, "failed": 0, "concurrency": 16, "request_rate": None,
        "output_throughput": 1725.5812148243967, "total_throughput": 3451.1624296487935,
        "ttft_median_ms": 104.43462803959846, "ttft_p90_ms": 668.5733429389074, "extra.p99.9_ttft_ms": 698.2081180762034,
        "e2e_median_ms": 9359.918448608369, "extra.request_goodput": None, "extra.best_of": 1}),
    "dynamo/sa-bench-benchmark_serving-result-minimax-m2.5-conc512-ctx8-gen8.json": ("vllm-bench-serve", 1, {
        "completed": 5120, "concurrency": 512, "output_throughput": 12787.631138149543,
        "ttft_p90_ms": 422.8423163294793, "extra.p99.9_itl_ms": 91.91624939884088, "e2e_median_ms": 40222.33807248995}),
    "trtllm-bench/v0.17.0-throughput-trt-engine-llama3.1-8b-fp8-full-log.txt": ("trtllm-bench", 1, {
        "tool_version": "0.17.0", "completed": 3000, "output_throughput": 28390.4265, "request_throughput": 221.8002,
        "duration_s": 13.5256862, "extra.tp_size": 1, "extra.kv_memory_percentage": 90.0,
        "extra.scheduling_policy": "Guaranteed No Evict"}),
    "trtllm-bench/v0.17.0-throughput-pytorch-backend-llama3.1-8b-summary.txt": ("trtllm-bench", 1, {
        "tool_version": "0.17.0", "completed": 3000, "output_throughput": 20685.5510, "request_throughput": 161.6059,
        "duration_s": 18.5636825}),
    "trtllm-bench/v0.19era-throughput-pytorch-multimodal-qwen2-vl-2b-summary.txt": ("trtllm-bench", 1, {
        "completed": 10, "request_throughput": 1.4439, "output_throughput": 185.8351, "total_throughput": 780.1607,
        "e2e_mean_ms": 3671.8441, "e2e_median_ms": 3936.3022, "e2e_p90_ms": 5514.4701, "e2e_p99_ms": 5514.4701,
        "extra.measured_concurrency": 5.3019, "extra.per_user_output_throughput_with_ctx": 38.1959,
        "extra.latency_p95": 5514.4701, "extra.ep_size": "None"}),
    "trtllm-bench/perf-overview-streaming-performance-overview-ttft-tpot-breakdown.txt": ("trtllm-bench", 1, {
        "request_throughput": 43.2089, "output_throughput": 5530.7382, "total_throughput": 94022.5497,
        "duration_s": 115.7169214, "ttft_mean_ms": 52667.0339, "ttft_median_ms": 52269.7072, "ttft_p90_ms": 96583.7187,
        "ttft_p99_ms": 106563.4497, "tpot_mean_ms": 182.9639, "tpot_median_ms": 204.0463, "tpot_p99_ms": 206.5821,
        "e2e_median_ms": 78509.2102, "e2e_p99_ms": 111618.2158, "extra.tpot_minimum": 32.8005}),
    "aiperf/example-run1-gpt-oss-20b-cancellations_profile_export_aiperf.json": ("aiperf", 1, {
        "completed": 89, "failed": 11, "num_prompts": 100, "concurrency": 100, "output_len": 250,
        "request_throughput": 9.551622221540914, "ttft_mean_ms": 2343.219436988764, "ttft_median_ms": 2369.317693,
        "ttft_p99_ms": 3833.3894000399996, "duration_s": 9.317789, "extra.model": "openai/gpt-oss-20b",
        "total_output_tokens": 21624, "total_input_tokens": 48950}),
    "aiperf/example-run1-gpt-oss-20b-cancellations_profile_export_aiperf.csv": ("aiperf", 1, {
        "completed": 89, "failed": 11, "ttft_mean_ms": 2343.22, "ttft_median_ms": 2369.32, "ttft_p90_ms": 3796.93,
        "tpot_median_ms": 27.62, "itl_median_ms": 22.67, "e2e_p99_ms": 9297.61, "duration_s": 9.32,
        "output_throughput": 2320.72, "request_throughput": 9.55}),
    "aiperf/example-run1-gpt-oss-20b-cancellations_profile_export.first12.jsonl": ("aiperf", 1, {
        "completed": 1, "failed": 11, "num_prompts": 12, "extra.error_counts": {"499 RequestCancellationError": 11}}),
    "aiperf/v0.8.0-mockserver-chat-c4_profile_export_aiperf.json": ("aiperf", 1, {
        "tool_version": "0.8.0", "completed": 64, "failed": 0, "request_throughput": 1854.929714829192,
        "e2e_median_ms": 0.6734304999999999, "e2e_p99_ms": 15.14387014, "duration_s": 0.034502655,
        "output_throughput": 1022443.0554692096, "total_throughput": 2042654.398625265, "ttft_median_ms": None}),
    "aiperf/v0.8.0-mockserver-chat-c4_profile_export_aiperf.csv": ("aiperf", 1, {
        "completed": 64, "e2e_mean_ms": 1.52, "e2e_median_ms": 0.67, "duration_s": 0.03,
        "output_throughput": 1022443.06, "total_input_tokens": 35200, "total_output_tokens": 35277}),
    "aiperf/v0.8.0-mockserver-chat-c4_console.txt": ("aiperf", 1, {
        "completed": 64, "e2e_mean_ms": 1.52, "e2e_median_ms": 0.67, "e2e_p90_ms": 0.91,
        "output_throughput": 1022443.06, "request_throughput": 1854.93}),
    "aiperf/readme-oct2025-console-llm-metrics.txt": ("aiperf", 1, {
        "completed": 711, "ttft_mean_ms": 18.26, "ttft_p99_ms": 68.82, "ttft_p90_ms": 27.76, "ttft_median_ms": None,
        "tpot_mean_ms": 11.23, "e2e_mean_ms": 487.30, "output_throughput": 10944.03, "request_throughput": 255.54,
        "extra.output_token_throughput_per_user.avg": "89.23"}),
    "aiperf/docs-goodput-oct2025-console-llm-metrics.txt": ("aiperf", 1, {
        "completed": 20, "ttft_median_ms": 51.80, "e2e_mean_ms": 3651.23, "e2e_p99_ms": 5707.95,
        "tpot_median_ms": 3.40, "output_throughput": 287.44, "extra.goodput.avg": "0.14"}),
    "aiperf/docs-all-requests-failed-timeout-console.txt": ("aiperf", 1, {
        "completed": 0, "failed": 5, "ttft_mean_ms": None, "output_throughput": None,
        "extra.errors": [{"code": None, "type": "TimeoutError", "message": "", "count": 5}]}),
    "genai-perf/readme-gpt2-tensorrtllm-streaming-console.txt": ("genai-perf", 1, {
        "ttft_mean_ms": 16.26, "ttft_p99_ms": 17.09, "tpot_mean_ms": 1.85, "e2e_mean_ms": 499.20,
        "output_throughput": 520.87, "request_throughput": 1.99, "completed": None}),
    "genai-perf/docs-dynamo-deepseek-r1-distill-8b-console.txt": ("genai-perf", 1, {
        "ttft_mean_ms": 39.13, "e2e_mean_ms": 1799.53, "e2e_p99_ms": 1802.39, "tpot_mean_ms": 17.96,
        "output_throughput": 54.52, "request_throughput": 0.55, "completed": 10}),
    "genai-perf/docs-analyze-summary-report-analyze_export_genai_perf.csv": ("genai-perf", 3, {
        "concurrency": 1, "input_len": 201, "ttft_p99_ms": 33.54, "tpot_p99_ms": 7.16, "e2e_p99_ms": 779.75,
        "output_throughput": 149.63, "request_throughput": 1.32, "extra.config_name": "gpt2_run_config_2",
        "2.ttft_p99_ms": 82.02}),
    "llmperf/leaderboard-anyscale-llama2-13b_summary.json": ("llmperf", 1, {
        "completed": 150, "failed": 0, "concurrency": 5, "input_len": 550, "output_len": 150,
        "output_throughput": 338.52437255956016, "ttft_median_ms": 202.35683199999244,
        "e2e_p99_ms": 1718.5045256599987, "tpot_median_ms": None, "extra.error_code_frequency": {},
        "extra.framework": "anyscale"}),
    "llmperf/leaderboard-lepton-llama2-13b-http429_summary.json": ("llmperf", 1, {
        "completed": 20, "failed": 130, "num_prompts": 150, "extra.error_code_frequency": {"429": 130},
        "ttft_median_ms": 1080.4184455000012, "request_throughput": 23.560301595745855 / 60,
        "extra.llmperf_inter_token_latency_incl_ttft_median_ms": 23.172122364239302}),
    "llmperf/leaderboard-lepton-llama2-13b-http429_individual_responses.json": ("llmperf", 1, {
        "completed": 20, "failed": 130, "num_prompts": 150, "extra.error_code_frequency": {"429": 130}}),
    "llmperf/leaderboard-bedrock-llama2-13b-err-100_summary.json": ("llmperf", 1, {
        "completed": 53, "failed": 97, "extra.error_code_frequency": {"-100": 97}, "ttft_mean_ms": 330.8843597923493}),
    "llmperf/leaderboard-bedrock-llama2-13b-err-100_individual_responses.json": ("llmperf", 1, {
        "completed": 53, "failed": 97, "extra.error_code_frequency": {"-100": 97}}),
}

TRUNCATED = {
    "sglang/v0.4.0.post2-stdout-1648-of-3000-succeeded-TRUNCATED-issue2805.txt": "Median TTFT (ms)",
    "vllm/v0.10era-vllm-bench-serve-stdout-low-success-TRUNCATED-issue24005.txt": "Total input tokens",
}


def _get(records, key):
    """`field`, `N.field` (record N), `extra.name` or `extra.name.sub`; an absent field reads as None."""
    index, _, field = key.partition(".") if key.split(".")[0].isdigit() else ("0", "", key)
    record = records[int(index)]
    if not field.startswith("extra."):
        return record.get(field)
    rest, extra = field[len("extra."):], record["extra"]
    if rest in extra:
        return extra[rest]
    name, _, sub = rest.partition(".")
    return extra[name][sub]


def test_every_fixture_has_expectations():
    files = {str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*") if p.is_file() and p.name != "SOURCES.md"}
    assert files == set(GOLDEN) | set(TRUNCATED)


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden(name):
    tool, count, expected = GOLDEN[name]
    parsed = parse_file(str(FIXTURES / name))
    assert parsed.tool == tool
    assert len(parsed.records) == count
    for key, value in expected.items():
        got = _get(parsed.records, key)
        assert got == (approx(value) if isinstance(value, float) else value), f"{name}: {key}"


@pytest.mark.parametrize("name", sorted(TRUNCATED))
def test_truncated_tables_are_refused_not_guessed(name):
    with pytest.raises(ParseError) as err:
        parse_file(str(FIXTURES / name))
    assert name in str(err.value) and "truncated" in str(err.value) and TRUNCATED[name] in str(err.value)


def test_tool_is_detected_and_can_be_given():
    path = FIXTURES / "vllm/v0.9era-save-result-9runs.jsonl"
    assert parse_file(str(path), tool="vllm-benchmark-serving").records[0]["tool"] == "vllm-benchmark-serving"
    with pytest.raises(ParseError, match="expected output of trtllm-bench"):
        parse_file(str(path), tool="trtllm-bench")


def test_cut_off_last_json_line_keeps_complete_lines():
    text = (FIXTURES / "sglang/v0.4.0era-output-file-llama3.3-70b-online-7runs.jsonl").read_text()
    parsed = parse(text[: len(text) - 200], "cut.jsonl")
    assert len(parsed.records) == 6 and "line 7 is incomplete" in parsed.warnings[0]


@pytest.mark.parametrize("text, expected", [
    ("", "empty"),
    ("hello world\nnothing to see", "not a recognised benchmark output"),
    ('{"foo": 1}', "JSON, but not the output of a supported tool"),
    ('{"completed": 10, "duration": ', "truncated JSON: Expecting value at line 1, column 30"),
    ("============ Serving Benchmark Result ============\nSuccessful requests:   5\n", "no closing line"),
    ("Metric,avg\n", "no metric rows"),
])
def test_corrupt_or_unknown_input_names_the_file(text, expected):
    with pytest.raises(ParseError) as err:
        parse(text, "bad-output.txt")
    assert str(err.value).startswith("bad-output.txt: ") and expected in str(err.value)


def test_trtllm_report_json_sample():
    parsed = parse_file(str(SAMPLES / "trtllm-report.json"))
    r = parsed.records[0]
    assert parsed.tool == "trtllm-bench" and r["tool_version"] == "1.3.0rc5"
    assert (r["completed"], r["duration_s"], r["output_throughput"]) == (1000, approx(9.18725), 13932.35)
    assert (r["e2e_median_ms"], r["e2e_p99_ms"], r["ttft_p90_ms"], r["tpot_median_ms"]) == (5701.2, 9011.4, 4100.5, 25.1)
    assert r["extra"]["measured_concurrency"] == 612.5 and r.get("concurrency") is None


def test_trtllm_request_json_sample_converts_nanoseconds():
    r = parse_file(str(SAMPLES / "trtllm-request.json")).records[0]
    assert (r["completed"], r["failed"]) == (5, 0)
    assert r["ttft_mean_ms"] == approx(120.0) and r["ttft_median_ms"] == approx(120.0)
    assert r["e2e_p99_ms"] == approx(1000 + 100 * 3.96)
    assert r["tpot_median_ms"] == approx((1200 - 120) / 127)


def test_sglang_per_request_arrays_give_the_failed_count():
    r = parse_file(str(SAMPLES / "sglang-output-details.jsonl")).records[0]
    assert (r["completed"], r["failed"], r["num_prompts"]) == (8, 2, 10)
    assert r["ttft_median_ms"] == 155.0  # the summary, not a mean of seconds
    assert "ttfts" not in r["extra"] and "itls" not in r["extra"]
    assert r["request_rate"] is None and r["concurrency"] == 4 and r["extra"]["measured_concurrency"] == 2.62


def test_all_requests_failed_leaves_metrics_empty_not_zero():
    parsed = parse_file(str(SAMPLES / "sglang-all-failed.jsonl"))
    r = parsed.records[0]
    assert r["completed"] == 0
    assert all(r[k] is None for k in ("ttft_median_ms", "tpot_mean_ms", "e2e_mean_ms", "output_throughput"))
    assert "every request failed" in parsed.warnings[0]


# ---- outputs as they appear in the wild (issue 12): each case against a sample or a fixture ------------

def fixture(name):
    return (FIXTURES / name).read_text()


def test_a_speculative_decoding_section_is_parsed_not_called_truncated():
    r = parse_file(str(SAMPLES / "vllm-bench-serve-spec-decode.txt")).records[0]
    assert (r["completed"], r["tpot_median_ms"], r["itl_p99_ms"]) == (64, 17.95, 88.12)
    assert r["extra"]["acceptance_rate"] == 61.25 and r["extra"]["acceptance_length"] == 2.84
    assert r["extra"]["per_position_acceptance"] == {"position_0": 80.5, "position_1": 59.75, "position_2": 43.5}


def test_sglang_lengths_count_only_for_random_datasets():
    sharegpt = parse_file(str(SAMPLES / "sglang-sharegpt.jsonl")).records[0]
    assert sharegpt["input_len"] is None and sharegpt["output_len"] is None  # random_* are unused defaults there
    assert (sharegpt["extra"]["mean_input_len"], sharegpt["extra"]["mean_output_len"]) == (228.0, 184.0)
    table = fixture("sglang/v0.4.5.post3-stdout-skypilot-prefixed-deepseek-r1-5k1k.txt")
    assert parse(table, "t.txt").records[0]["input_len"] == 5000
    sharegpt_table = table.replace("dataset_name='random'", "dataset_name='sharegpt'")
    assert parse(sharegpt_table, "t.txt").records[0].get("input_len") is None


def _aiperf_export(request_count):
    import json

    obj = json.loads(fixture("aiperf/example-run1-gpt-oss-20b-cancellations_profile_export_aiperf.json"))
    obj["input_config"].setdefault("loadgen", {})["request_count"] = request_count
    return json.dumps(obj)


def test_a_request_count_of_zero_means_not_set():
    r = parse(_aiperf_export(0), "aiperf.json").records[0]
    assert r["num_prompts"] == 100 and (r["completed"], r["failed"]) == (89, 11)  # counted, not 0
    genai = {"request_throughput": {"unit": "requests/sec", "avg": 2.0},
             "request_latency": {"unit": "ms", "avg": 500.0, "p50": 480.0},
             "request_count": {"unit": "count", "avg": 40}, "input_config": {"request_count": 0, "concurrency": 4}}
    import json

    r = parse(json.dumps(genai), "genai.json").records[0]
    assert r["tool"] == "genai-perf" and r["num_prompts"] is None and r["completed"] == 40


def test_a_cut_aiperf_csv_is_refused_naming_what_is_missing():
    text = fixture("aiperf/example-run1-gpt-oss-20b-cancellations_profile_export_aiperf.csv")
    cut = text[:text.index("Output Sequence Length")]  # rows sort by name: TPOT survives, TTFT and counts do not
    with pytest.raises(ParseError, match="the CSV lacks Request Latency, Request Count, Request Throughput: it is cut"):
        parse(cut, "export.csv")


def test_reports_of_two_tools_in_one_file_are_all_kept_in_order():
    both = (fixture("vllm/v0.8.4-benchmark_serving-stdout-skypilot-prefixed-deepseek-r1-1k2k.txt") + "\n"
            + fixture("trtllm-bench/v0.17.0-throughput-pytorch-backend-llama3.1-8b-summary.txt"))
    parsed = parse(both, "both.log")
    assert [r["tool"] for r in parsed.records] == ["vllm-bench-serve", "trtllm-bench"]
    assert parsed.records[0]["output_throughput"] == 1136.92 and parsed.records[1]["output_throughput"] == 20685.5510
    assert "the file holds reports of 2 tools (vllm-bench-serve, trtllm-bench)" in " ".join(parsed.warnings)
    only = parse(both, "both.log", "trtllm-bench")
    assert [r["tool"] for r in only.records] == ["trtllm-bench"]
    assert "1 record(s) of vllm-bench-serve ignored: trtllm-bench was asked for" in only.warnings


def test_parse_says_what_it_did_with_a_mixed_or_cut_file(tmp_path):
    import subprocess
    import sys

    both = tmp_path / "both.log"
    both.write_text(fixture("sglang/v0.4.5.post3-stdout-skypilot-prefixed-deepseek-r1-5k1k.txt") + "\n"
                    + fixture("aiperf/v0.8.0-mockserver-chat-c4_console.txt"))
    out = subprocess.run([sys.executable, "-m", "recipebench", "parse", str(both)], cwd=REPO, capture_output=True,
                         text=True)
    assert out.returncode == 0 and "holds reports of 2 tools (sglang-bench-serving, aiperf)" in out.stderr
    cut = tmp_path / "cut.jsonl"
    cut.write_text(fixture("aiperf/example-run1-gpt-oss-20b-cancellations_profile_export.first12.jsonl")[:-40])
    out = subprocess.run([sys.executable, "-m", "recipebench", "parse", str(cut)], cwd=REPO, capture_output=True,
                         text=True)
    assert out.returncode == 0 and "line 12 is incomplete JSON and was skipped" in out.stderr


def test_cut_multi_line_json_says_where_it_breaks():
    import json

    pretty = json.dumps(json.loads(fixture("dynamo/sa-bench-benchmark_serving-result-gpt-oss-120b-conc16-ctx8-gen8"
                                           ".json")), indent=2)
    with pytest.raises(ParseError, match=r"truncated JSON: .* at line 40, column"):
        parse("\n".join(pretty.splitlines()[:40]), "result.json")


@pytest.mark.parametrize("prefix", [
    "2025-11-20T10:00:00.123456789Z ",  # kubectl logs --timestamps
    "2025-11-20T10:00:00.123456789Z stdout F ",  # the container runtime's log file (CRI format)
    "# ",  # a commented copy
    "[bench-0] ",  # a log collector's tag
])
def test_line_prefixes_are_stripped(prefix):
    text = fixture("vllm/2026-vllm-bench-serve-stdout-minimax-m2-tp4-c16-pr43276.txt")
    r = parse("\n".join(prefix + line for line in text.splitlines()), "prefixed.log").records[0]
    assert (r["completed"], r["output_throughput"], r["ttft_p99_ms"], r["itl_mean_ms"]) == (128, 862.09, 4043.75, 22.76)


@pytest.mark.parametrize("name, cut", [
    ("aiperf/example-run1-gpt-oss-20b-cancellations_profile_export.first12.jsonl", 40),
    ("llmperf/leaderboard-lepton-llama2-13b-http429_individual_responses.json", 300),
])
def test_the_warning_for_a_cut_file_reaches_the_caller(name, cut):
    parsed = parse(fixture(name)[:-cut], name)
    assert any("incomplete JSON" in w or "cut off" in w for w in parsed.warnings), parsed.warnings
    assert parsed.records[0]["num_prompts"] < {"aiperf": 12, "llmperf": 150}[parsed.tool]


def test_a_cut_trtllm_request_file_warns():
    text = (SAMPLES / "trtllm-request.json").read_text()
    parsed = parse(text[:text.rindex("}")], "request.json")
    assert parsed.records[0]["num_prompts"] == 4 and "cut off after 4 complete element(s)" in parsed.warnings[0]


def test_trtllm_012_statistics_report():
    r = parse_file(str(SAMPLES / "trtllm-bench-0.12-statistics.txt")).records[0]
    assert (r["tool_version"], r["completed"], r["duration_s"]) == ("0.12.0", 1000, 22.857142)
    assert (r["request_throughput"], r["output_throughput"]) == (43.75, 11200.5)


def test_trtllm_bench_0_16_labels_mean_what_that_release_printed():
    """0.16's reports (tensorrt_llm/bench/dataclasses/reporting.py of that release): the latency report
    (report_latency_statistics) prints "Total Token Throughput" for BenchmarkStatistics.token_throughput_ns,
    output tokens / latency, and TTFT and inter-token rows without the later bracketed labels; its two
    breakdowns print bare MIN/MAX/AVG/Pnn rows, whose "P90" holds the p50."""
    r = parse_file(str(SAMPLES / "trtllm-bench-0.16-latency.txt")).records[0]
    assert (r["output_throughput"], r.get("total_throughput")) == (123.01, None)
    assert (r["ttft_mean_ms"], r["tpot_mean_ms"], r["e2e_mean_ms"], r["duration_s"]) == (34.2, 7.92, 1040.5, 66.596)
    assert r["extra"]["generation_latency_p50_ms"] == 1004.0 and "generation_latency_p90_ms" not in r["extra"]
    assert r["extra"]["acceptance_p99"] == 1.0 and not {"min", "min_ms", "p90"} & set(r["extra"])
    # report_statistics with streaming: PERFORMANCE OVERVIEW then STREAMING STATISTICS, same bare labels
    rule = "=" * 59
    throughput = "\n".join([rule, "= PERFORMANCE OVERVIEW ", rule, "Number of requests:\t\t100",
                            "Token Throughput (tokens/sec):\t2560.0000", "Request Throughput (req/sec):\t10.0000",
                            "Total Latency (ms):\t\t10000.0000", "", rule, "= STREAMING STATISTICS ", rule,
                            "Average request latency (ms):\t\t900.0000",
                            "Average time-to-first-token (ms):\t60.0000",
                            "Average inter-token latency (ms):\t3.3000", "", rule, ""])
    t = parse(throughput, "log.txt").records[0]
    assert (t["output_throughput"], t["ttft_mean_ms"], t["tpot_mean_ms"], t["e2e_mean_ms"]) == (2560.0, 60.0, 3.3, 900.0)


def test_aiperf_input_token_throughput_in_every_format():
    import json

    obj = json.loads(fixture("aiperf/example-run1-gpt-oss-20b-cancellations_profile_export_aiperf.json"))
    obj["records"]["input_token_throughput"] = {"tag": "input_token_throughput", "unit": "tokens/sec", "avg": 5253.2}
    assert parse(json.dumps(obj), "a.json").records[0]["input_throughput"] == 5253.2
    csv = fixture("aiperf/example-run1-gpt-oss-20b-cancellations_profile_export_aiperf.csv").replace(
        "Maximum Response", "Input Token Throughput (tokens/sec),5253.20\nMaximum Response")
    assert parse(csv, "a.csv").records[0]["input_throughput"] == 5253.2
    console = fixture("aiperf/v0.8.0-mockserver-chat-c4_console.txt")
    row = next(ln for ln in console.splitlines() if "Request Throughput (requests/sec)" in ln)
    extra_row = row.replace("Request Throughput (requests/sec)", "Input Token Throughput (tokens/sec)").replace(
        "1,854.93", "5,253.20")
    r = parse(console.replace(row, row + "\n" + extra_row), "a.txt").records[0]
    assert (r["input_throughput"], r["request_throughput"]) == (5253.2, 1854.93)


def test_a_json_without_latencies_warns_and_one_without_anything_measured_is_refused():
    import json

    vllm_like = {"date": "20260101-000000", "completed": 10, "num_prompts": 10, "duration": 5.0,
                 "request_throughput": 2.0, "output_throughput": 100.0, "ttft_s_mean": 0.1}
    parsed = parse(json.dumps(vllm_like), "r.json")
    assert parsed.records[0]["output_throughput"] == 100.0 and parsed.warnings == [
        "no latency figure in this output (keys that look like one, kept in extra: ttft_s_mean)"]
    del vllm_like["request_throughput"], vllm_like["output_throughput"]
    with pytest.raises(ParseError, match="no latency and no throughput figure: nothing measured was found"):
        parse(json.dumps(vllm_like), "r.json")


def test_integer_columns_are_integers():
    r = parse_file(str(SAMPLES / "sglang-float-lengths.jsonl")).records[0]
    assert (r["input_len"], r["output_len"], r["completed"]) == (1024, 512, 400)
    assert all(type(r[k]) is int for k in ("input_len", "output_len", "completed", "total_input_tokens"))


def test_a_tpot_of_zero_for_one_token_outputs_is_empty():
    text = fixture("vllm/2026-vllm-bench-serve-stdout-minimax-m2-tp4-c16-pr43276.txt")
    for label in ("Mean TPOT (ms):", "Median TPOT (ms):", "P99 TPOT (ms):"):
        line = next(ln for ln in text.splitlines() if ln.startswith(label))
        text = text.replace(line, f"{label:<40} 0.00")
    parsed = parse(text, "one-token.txt")
    r = parsed.records[0]
    assert r["tpot_mean_ms"] is None and r["tpot_median_ms"] is None and r["tpot_p99_ms"] is None
    assert r["ttft_median_ms"] == 1432.74 and any("TPOT of 0 ms" in w for w in parsed.warnings)


# -- issue 21, round three: values that are silently wrong, inputs that are not text -------------------
def test_a_decimal_comma_is_not_a_thousands_separator():
    from recipebench.parsers.common import number

    assert number("745,38") == 745.38 and number("0,125") == 0.125 and number("1.234,56") == 1234.56
    assert number("1,100") == 1100 and number("12,345.6") == 12345.6 and number("1,234,567") == 1234567


def test_nan_and_infinity_in_a_json_output_are_named_not_silently_empty():
    """Python's json.dumps writes float('nan') and float('inf') as the bare literals NaN and Infinity
    (json.encoder, floatstr: allow_nan=True by default), which is what sglang's bench_serving and vLLM's
    --save-result write for a metric of no request; the rate's Infinity is the tools' 'all at once'."""
    record = {"backend": "sglang", "dataset_name": "random", "request_rate": float("inf"), "max_concurrency": 8,
              "completed": 100, "duration": 120.0, "total_input_tokens": 100000, "total_output_tokens": 100000,
              "output_throughput": 833.3, "mean_ttft_ms": 40.0, "median_ttft_ms": 39.0, "mean_itl_ms": float("nan"),
              "median_e2e_latency_ms": 5000.0, "random_input_len": 1000, "random_output_len": 1000}
    text = json.dumps(record)
    assert "NaN" in text and "Infinity" in text
    parsed = parse(text, "r.jsonl")
    assert parsed.records[0].get("itl_mean_ms") is None
    assert "mean_itl_ms is NaN in the JSON: no measurement, left empty" in parsed.warnings
    assert not any("request_rate" in w for w in parsed.warnings)


def test_minus_infinity_in_a_throughput_and_nan_in_a_nested_statistic_are_named_by_path():
    """A throughput of -Infinity (a duration of 0 divided by a negative clock step) and an AIPerf statistic
    held as NaN are empty with a warning naming the field, the nested one by its path."""
    vllm = {"backend": "vllm", "completed": 100, "duration": 100.0, "request_throughput": 1.0,
            "output_throughput": float("-inf"), "mean_ttft_ms": 40.0, "median_ttft_ms": 40.0,
            "total_input_tokens": 1000, "total_output_tokens": 1000, "num_prompts": 100,
            "date": "20261201-000000", "max_concurrency": 4}
    parsed = parse(json.dumps(vllm), "r.json")
    assert parsed.records[0]["output_throughput"] is None
    assert parsed.warnings == ["output_throughput is -Infinity in the JSON: no measurement, left empty"]
    export = {"request_throughput": {"unit": "requests/sec", "avg": 10.0},
              "request_latency": {"unit": "ms", "avg": 2000.0, "p50": 1900.0, "p99": 3000.0},
              "output_token_throughput": {"unit": "tokens/sec", "avg": float("nan")},
              "request_count": {"unit": "requests", "avg": 500}}
    parsed = parse(json.dumps(export), "e.json")
    assert parsed.records[0].get("output_throughput") is None
    assert "output_token_throughput.avg is NaN in the JSON: no measurement, left empty" in parsed.warnings


def test_a_gzip_compressed_output_is_said_to_be_compressed():
    import gzip

    data = gzip.compress(b'{"completed": 1}')
    for text in (data.decode("latin-1"), data.decode("utf-8", errors="replace")):
        with pytest.raises(ParseError, match="gzip-compressed, not text"):
            parse(text, "out.json.gz")


def test_an_aiperf_console_without_its_error_table_does_not_claim_zero_failures():
    """AIPerf's console prints its Error Summary table only when a request failed, and a pasted console may
    leave it out: absence proves nothing, so failed stays empty; with the table, its counts are the failures."""
    console = fixture("aiperf/v0.8.0-mockserver-chat-c4_console.txt")
    assert "Error Summary" not in console
    (record,) = parse(console, "c.txt").records
    assert record["completed"] == 64 and record.get("failed") is None
    (failed,) = parse(fixture("aiperf/docs-all-requests-failed-timeout-console.txt"), "f.txt").records
    assert failed["completed"] == 0 and failed["failed"] > 0


def test_an_aiperf_json_export_of_a_run_where_every_request_failed_is_a_record():
    """AIPerf's JSON export (src/aiperf/exporters/metrics_json_exporter.py) writes the metrics it computed:
    with no successful request that is the error count alone, beside error_summary; the console path
    already reads such a run (docs-all-requests-failed-timeout-console.txt)."""
    export = {"schema_version": "1.4", "aiperf_version": "0.13.0",
              "error_request_count": {"unit": "requests", "avg": 100},
              "error_summary": [{"error_details": {"code": 500, "type": "Internal Server Error", "message": "boom"},
                                 "count": 100}], "was_cancelled": False, "input_config": {}}
    parsed = parse(json.dumps(export), "profile_export_aiperf.json")
    (record,) = parsed.records
    assert (record["completed"], record["failed"], record["num_prompts"]) == (0, 100, 100)
    assert record["output_throughput"] is None and record["ttft_median_ms"] is None
    assert parsed.warnings == ["every request failed: latency and throughput are left empty, not zero"]


def test_latency_rows_printed_in_seconds_are_converted_to_ms():
    """The serving table's latency rows carry their unit in the label: a table printed in seconds (a fork's
    or a later release's `Mean TTFT (s):`) lands in the same ms columns, not in extra."""
    from recipebench.clients.table import serving_table

    table = serving_table([("Successful requests:", 100), ("Benchmark duration (s):", 120.0),
                           ("Output token throughput (tok/s):", 833.0), ("-Time to First Token-", ""),
                           ("Mean TTFT (s):", 0.25), ("Median TTFT (s):", 0.2), ("P99 TTFT (ms):", 900.0)])
    (record,) = parse(table, "t.txt").records
    assert (record["ttft_mean_ms"], record["ttft_median_ms"], record["ttft_p99_ms"]) == (250.0, 200.0, 900.0)
    assert not any("ttft" in k for k in record["extra"])


@pytest.mark.parametrize("phases", [
    {"warmup": {"concurrency": 4, "request_count": 8}, "profiling": {"concurrency": 40, "request_count": 500}},
    [{"name": "warmup", "concurrency": 4, "request_count": 8}, {"name": "profiling", "concurrency": 40,
                                                                "request_count": 500}],
])
def test_aiperf_states_its_load_under_load_phases_in_newer_schemas(phases):
    """Newer AIPerf exports the load of each phase under input_config.phases (its sweep paths name
    `phases.profiling.concurrency`: docs/reference/json-export-schema.md): the profiling phase's is the
    record's, never the warm-up's."""
    export = {"schema_version": "1.3", "aiperf_version": "0.10.0",
              "request_throughput": {"unit": "requests/sec", "avg": 10.0},
              "request_latency": {"unit": "ms", "avg": 2000.0, "p50": 1900.0, "p99": 3000.0},
              "request_count": {"unit": "requests", "avg": 500},
              "input_config": {"endpoint": {"model_names": ["m"]}, "phases": phases}}
    (record,) = parse(json.dumps(export), "e.json").records
    assert (record["concurrency"], record["num_prompts"]) == (40, 500)


def test_a_genai_perf_csv_without_a_request_count_row_is_read_not_called_cut_short():
    """GenAI-Perf's CSV (triton-inference-server/perf_analyzer genai-perf/genai_perf/export_data/
    csv_exporter.py: _write_request_metrics writes Metric,avg,min,max,p99,...,p25 rows formatted {:,.2f}, a
    unit in the name except for tokens; _write_system_metrics writes Metric,Value rows formatted {:.2f}) of
    its early-2025 layout has no Request Count row; its throughput rows still close the file."""
    text = ("Metric,avg,min,max,p99,p95,p90,p75,p50,p25\r\n"
            "Time To First Token (ms),40.50,30.10,90.00,88.00,70.00,60.00,45.00,39.00,35.00\r\n"
            "Inter Token Latency (ms),12.00,10.00,20.00,19.00,17.00,15.00,13.00,12.00,11.00\r\n"
            "Request Latency (ms),\"1,250.00\",\"1,100.00\",\"1,900.00\",\"1,880.00\",\"1,700.00\",\"1,500.00\","
            "\"1,300.00\",\"1,240.00\",\"1,200.00\"\r\n"
            "Output Sequence Length,100.00,98.00,102.00,102.00,101.00,101.00,100.00,100.00,99.00\r\n"
            "Input Sequence Length,200.00,200.00,200.00,200.00,200.00,200.00,200.00,200.00,200.00\r\n"
            "\r\n"
            "Metric,Value\r\n"
            "Output Token Throughput (per sec),1600.50\r\n"
            "Request Throughput (per sec),16.01\r\n")
    parsed = parse(text, "profile_export_genai_perf.csv")
    (record,) = parsed.records
    assert record["tool"] == "genai-perf" and record["e2e_median_ms"] == 1240.0 and record["request_throughput"] == 16.01
    assert record.get("completed") is None and any("no Request Count row" in w for w in parsed.warnings)
    with pytest.raises(ParseError, match="cut short"):  # a file that lost its system metrics still is
        parse(text.split("\r\n\r\n")[0] + "\r\n", "cut.csv")


def test_an_aiperf_csv_gpu_telemetry_section_is_not_read_as_metrics():
    """AIPerf's CSV (ai-dynamo/aiperf src/aiperf/exporters/metrics_csv_exporter.py: _generate_content writes
    the request metrics, a blank line, the Metric,Value system metrics, then _write_telemetry_section: two
    blank lines and a table headed Endpoint,GPU_Index,GPU_Name,GPU_UUID,Metric,avg,... with one row per GPU
    and metric). Those rows are the GPUs', not the benchmark's: not metrics, and said."""
    text = fixture("aiperf/v0.8.0-mockserver-chat-c4_profile_export_aiperf.csv").rstrip("\r\n")
    stats = "avg,min,max,p1,p5,p10,p25,p50,p75,p90,p95,p99,std"
    telemetry = ("\r\n\r\n\r\nEndpoint,GPU_Index,GPU_Name,GPU_UUID,Metric," + stats + ",Hostname\r\n"
                 "localhost:9401,0,NVIDIA H100 80GB HBM3,GPU-1a2b,GPU Power Usage (W),"
                 + ",".join(["350.00"] * 13) + ",node-0\r\n"
                 "localhost:9401,0,NVIDIA H100 80GB HBM3,GPU-1a2b,Request Throughput (requests/sec),"
                 + ",".join(["9.00"] * 13) + ",node-0\r\n")
    plain = parse(text + "\r\n", "p.csv")
    parsed = parse(text + telemetry, "p.csv")
    (record,) = parsed.records
    assert record == plain.records[0]  # nothing of the GPUs' rows in the record, not even a known label's
    assert any("GPU telemetry section (1 GPU, 2 rows) is not read" in w for w in parsed.warnings), parsed.warnings


def test_a_console_with_a_second_table_says_so_and_a_decorated_row_still_counts():
    """The consoles are rich tables, each under an `NVIDIA <tool> | <title>` line: a table other than LLM
    Metrics and Error Summary is named in a warning, not dropped silently; a row that a log collector
    suffixed after its last border is still the row."""
    console = fixture("genai-perf/readme-gpt2-tensorrtllm-streaming-console.txt")
    lines = console.splitlines()
    decorated = [ln + "  \x1b[0m[pod/bench-0]" if "Request latency (ms)" in ln else ln for ln in lines]
    second = ["", "                 NVIDIA GenAI-Perf | Embeddings Metrics",
              "┏━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━┓", "┃            Statistic ┃    avg ┃",
              "┡━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━┩", "│ Request latency (ms) │   9.99 │",
              "└──────────────────────┴────────┘"]
    parsed = parse("\n".join(decorated + second) + "\n", "c.txt")
    (record,) = parsed.records
    assert record["e2e_mean_ms"] == 499.20  # the LLM table's, not the embeddings table's 9.99
    assert "the console's 'Embeddings Metrics' table is not read (its LLM Metrics are)" in parsed.warnings


def test_text_after_a_trtllm_bench_report_is_not_read_into_it():
    """ReportUtility closes its report with a rule; a log goes on after it (here: the YAML the job prints
    and a line with a label the report also uses). None of it is the report's: not in extra, and no
    measured field is overwritten."""
    report = fixture("trtllm-bench/v0.17.0-throughput-trt-engine-llama3.1-8b-fp8-full-log.txt")
    after = "\nextra_llm_api_options:\n  print_iter_log: true\nRequest Throughput (req/sec): 1.0\nbackend: pytorch\n"
    (record,) = parse(report + after, "log.txt").records
    assert record["request_throughput"] == 221.8002
    assert not {"extra_llm_api_options", "print_iter_log", "backend"} & set(record["extra"])


def test_a_renamed_latency_key_is_named_in_the_warning():
    """A vLLM result whose latency keys a newer release renamed: the warning names what it found."""
    result = {"backend": "vllm", "completed": 100, "duration": 100.0, "request_throughput": 1.0,
              "output_throughput": 100.0, "mean_time_to_first_token_ms": 40.0, "total_input_tokens": 1000,
              "total_output_tokens": 1000, "num_prompts": 100, "date": "20261201-000000", "max_concurrency": 4}
    parsed = parse(json.dumps(result), "result.json")
    assert any(w.startswith("no latency figure in this output (keys that look like one, kept in extra: "
                            "mean_time_to_first_token_ms") for w in parsed.warnings), parsed.warnings


def test_trtllm_bench_token_totals_come_from_its_average_lengths():
    """trtllm-bench prints average lengths, not totals (ReportUtility's REQUEST DETAILS / request_info): the
    totals the length rule reads are average x requests."""
    (record,) = parse(fixture("trtllm-bench/v0.17.0-throughput-trt-engine-llama3.1-8b-fp8-full-log.txt"), "l").records
    assert (record["total_input_tokens"], record["total_output_tokens"]) == (3000 * 128, 3000 * 128)


def test_two_reports_interleaved_line_by_line_are_said_to_be_so():
    """Two clients' tables mixed line by line (one log stream for two pods): named, not called truncated."""
    from recipebench.clients.table import serving_table

    rows = [("Successful requests:", 100), ("Benchmark duration (s):", 120.0), ("Output token throughput (tok/s):", 8.0)]
    a, b = serving_table(rows).splitlines(), serving_table(rows).splitlines()
    mixed = "\n".join(x for pair in zip(a, b, strict=True) for x in pair) + "\n"
    with pytest.raises(ParseError, match="two reports interleaved: a second 'Serving Benchmark Result' header"):
        parse(mixed, "mixed.log")
