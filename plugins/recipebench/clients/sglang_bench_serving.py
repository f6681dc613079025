"""sglang.bench_serving, from the server's image (it must match the server's version)."""

from __future__ import annotations

import json

from recipebench.clients.base import (
    RESULTS_DIR,
    BenchmarkClient,
    DataFile,
    Measured,
    detail_arrays,
    flag_value,
    tokenizer_dir,
    window_mean,
)
from recipebench.clients.table import serving_table

# The random dataset's prompts are cut from ShareGPT conversations (python/sglang/bench_serving.py,
# sample_random_requests with random_sample=True), which it downloads from this address when no
# --dataset-path names a file (download_and_cache_file(SHAREGPT_URL)).
SHAREGPT = DataFile("ShareGPT_V3_unfiltered_cleaned_split.json",
                    "https://huggingface.co/datasets/anon8231489123/ShareGPT_Vicuna_unfiltered/resolve/main/"
                    "ShareGPT_V3_unfiltered_cleaned_split.json")


class SglangBenchServing(BenchmarkClient):
    name = "sglang-bench-serving"
    parser = "sglang-bench-serving"
    result_files = ("result.jsonl",)
    request_file = "result.jsonl"  # --output-details merges the per-request arrays into its line
    runs = "sglang.bench_serving"

    def length_flags(self, lengths, point):
        """Uniform in [int(L*r), L] for --random-range-ratio r; 1 means fixed
        (python/sglang/bench_serving.py, sample_random_requests)."""
        r = lengths.min_fraction
        return ["--random-input-len", str(point.input_len), "--random-output-len", str(point.output_len),
                "--random-range-ratio", f"{r or 1:g}"]

    def argv(self, recipe, point, host, port):
        return ["python3", "-m", self.runs, "--backend", "sglang", "--host", host, "--port", str(port),
                "--tokenizer", tokenizer_dir(recipe), "--dataset-name", recipe.benchmark.dataset,
                *[a for f in self.data_files(recipe) for a in ("--dataset-path", f.path)],
                *self.length_flags(recipe.benchmark.lengths, point),
                "--num-prompts", str(point.num_prompts), "--output-file", f"{RESULTS_DIR}/result.jsonl",
                # the per-request arrays goodput and SLO attainment are computed from (bench_serving.py,
                # benchmark(): merged into the --output-file line only with --output-details)
                "--output-details", *self.load_flags(point), *self.extra_flags(recipe)]

    def warmup_flags(self, n):
        """None: the pinned versions cannot be trusted with it. v0.4.3 sends one test request; from
        v0.4.5 `--warmup-requests` (default 1) is parsed, but run_benchmark did not pass it on to
        benchmark() until sgl-project/sglang PR 6439 (merged 2025-05-25, after v0.4.6.post4), and the
        warm-up requests bypass --max-concurrency, all at once, until PR 39398 (2026-09)."""
        return None

    def endpoint(self, recipe):
        # --backend sglang posts to the native /generate (bench_serving.py ASYNC_REQUEST_FUNCS:
        # async_request_sglang_generate), not an OpenAI endpoint
        return "generate"

    def data_files(self, recipe):
        return [SHAREGPT] if recipe.benchmark.dataset in ("random", "sharegpt") else []

    def drawn_means(self, argv):
        r = float(flag_value(argv, "--random-range-ratio") or 1)
        return (window_mean(int(flag_value(argv, "--random-input-len") or 0), r),
                window_mean(int(flag_value(argv, "--random-output-len") or 0), r))

    def hub_fetches(self, argv):
        found = super().hub_fetches(argv)
        dataset = flag_value(argv, "--dataset-name")
        if dataset in ("random", "sharegpt") and not (flag_value(argv, "--dataset-path") or "").startswith("/"):
            found.append(f"ShareGPT for --dataset-name {dataset} (no --dataset-path)")
        return found

    def simulated(self, m: Measured):
        """The --output-file record and the stdout table of python/sglang/bench_serving.py (benchmark())."""
        record = {
            "backend": "sglang", "dataset_name": "random", "request_rate": m.rate if m.rate else float("inf"),
            "max_concurrency": m.concurrency, "sharegpt_output_len": None, "random_input_len": m.input_len,
            "random_output_len": m.output_len, "random_range_ratio": 1.0, "duration": m.duration,
            "completed": m.prompts, "total_input_tokens": m.in_tokens, "total_output_tokens": m.out_tokens,
            "total_output_tokens_retokenized": m.out_tokens - 3, "request_throughput": m.req_tput,
            "input_throughput": m.in_tput, "output_throughput": m.out_tput,
            "mean_e2e_latency_ms": m.e2e, "median_e2e_latency_ms": m.q("e2e", 50), "std_e2e_latency_ms": m.e2e * 0.05,
            "p99_e2e_latency_ms": m.q("e2e", 99), "mean_ttft_ms": m.ttft, "median_ttft_ms": m.q("ttft", 50),
            "std_ttft_ms": m.ttft * 0.1, "p99_ttft_ms": m.q("ttft", 99), "mean_tpot_ms": m.tpot,
            "median_tpot_ms": m.q("tpot", 50), "std_tpot_ms": m.tpot * 0.03, "p99_tpot_ms": m.q("tpot", 99),
            "mean_itl_ms": m.itl, "median_itl_ms": m.itl * 0.97, "std_itl_ms": m.itl * 0.2,
            "p95_itl_ms": m.itl * 1.3, "p99_itl_ms": m.itl * 1.8, "concurrency": m.conc * 0.96,
            "accept_length": None,
        }
        stdout = serving_table([
            ("Backend:", "sglang"), ("Traffic request rate:", "inf" if not m.rate else m.rate),
            ("Max request concurrency:", m.concurrency or "not set"), ("Successful requests:", m.prompts),
            ("Benchmark duration (s):", m.duration), ("Total input tokens:", m.in_tokens),
            ("Total generated tokens:", m.out_tokens), ("Total generated tokens (retokenized):", m.out_tokens - 3),
            ("Request throughput (req/s):", m.req_tput), ("Input token throughput (tok/s):", m.in_tput),
            ("Output token throughput (tok/s):", m.out_tput), ("Concurrency:", m.conc * 0.96),
            ("-End-to-End Latency-", ""), ("Mean E2E Latency (ms):", record["mean_e2e_latency_ms"]),
            ("Median E2E Latency (ms):", record["median_e2e_latency_ms"]), ("-Time to First Token-", ""),
            ("Mean TTFT (ms):", record["mean_ttft_ms"]), ("Median TTFT (ms):", record["median_ttft_ms"]),
            ("P99 TTFT (ms):", record["p99_ttft_ms"]), ("-Inter-Token Latency-", ""),
            ("Mean ITL (ms):", record["mean_itl_ms"]), ("Median ITL (ms):", record["median_itl_ms"]),
            ("P95 ITL (ms):", record["p95_itl_ms"]), ("P99 ITL (ms):", record["p99_itl_ms"])])
        return stdout, {"result.jsonl": json.dumps(record | detail_arrays(m)) + "\n"}
