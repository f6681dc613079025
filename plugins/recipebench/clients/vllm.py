"""vLLM's clients, from the server's image: benchmarks/benchmark_serving.py and `vllm bench serve`
(the same benchmark, its CLI form since v0.9)."""

from __future__ import annotations

import json

from recipebench.clients.base import RESULTS_DIR, BenchmarkClient, Measured, detail_arrays, flag_value, tokenizer_dir
from recipebench.clients.table import serving_table


def _centre(length: int, r: float) -> int:
    return max(1, int(length * (1 + r) / 2))


class VllmClient(BenchmarkClient):
    result_files = ("result.json",)
    request_file = "result.json"  # --save-detailed keeps the per-request arrays in it
    head: tuple[str, ...] = ()

    def length_flags(self, lengths, point):
        """RandomDataset (since PR #16126, April 2025; v0.9.1 has it) draws uniformly in [X(1-b), X(1+b)]
        and asserts b < 1, so [rL, L] is the centre X = L(1+r)/2 with b = (L-X)/X; fixed is b = 0
        (vllm/benchmarks/datasets.py, RandomDataset.sample)."""
        i, o, r = point.input_len, point.output_len, lengths.min_fraction
        if r is None:
            return ["--random-input-len", str(i), "--random-output-len", str(o), "--random-range-ratio", "0"]
        ci, co = _centre(i, r), _centre(o, r)
        # one ratio serves both lengths: the smaller of the two keeps both windows inside [rL, L]
        b = min((i - ci) / ci, (o - co) / co)
        return ["--random-input-len", str(ci), "--random-output-len", str(co), "--random-range-ratio",
                f"{int(b * 1e6) / 1e6:.6f}"]  # rounded down: X(1+b) never exceeds L

    def drawn_means(self, argv):
        # a symmetric window around --random-input-len: its centre is the mean
        return float(flag_value(argv, "--random-input-len") or 0), float(flag_value(argv, "--random-output-len") or 0)

    def warmup_flags(self, n):
        """None: v0.9.1 sends one test prompt ("Starting initial single prompt test run...",
        benchmark_serving.py benchmark()); `--num-warmups` came with vllm-project/vllm PR 26943 (2025-10)."""
        return None

    def endpoint(self, recipe):
        return "completions"  # --backend vllm: /v1/completions, the default --endpoint

    def argv(self, recipe, point, host, port):
        return [*self.head, "--backend", "vllm", "--base-url", f"http://{host}:{port}",
                "--model", recipe.served_model_name, "--tokenizer", tokenizer_dir(recipe),
                "--dataset-name", recipe.benchmark.dataset,
                *self.length_flags(recipe.benchmark.lengths, point), "--num-prompts", str(point.num_prompts),
                "--ignore-eos", "--percentile-metrics", "ttft,tpot,itl,e2el", "--metric-percentiles", "50,90,99",
                "--save-result", "--save-detailed", "--result-dir", RESULTS_DIR, "--result-filename", "result.json",
                *self.load_flags(point), *self.extra_flags(recipe)]

    def simulated(self, m: Measured):
        """--save-result's JSON and the stdout table (vllm/benchmarks/serve.py, benchmark())."""
        record = {
            "date": "20261123-010203", "backend": "vllm", "model_id": "simulated", "tokenizer_id": "simulated",
            "num_prompts": m.prompts + m.failed, "request_rate": m.rate if m.rate else "inf", "burstiness": 1.0,
            "max_concurrency": m.concurrency, "duration": m.duration, "completed": m.prompts,
            "total_input_tokens": m.in_tokens, "total_output_tokens": m.out_tokens,
            "request_throughput": m.req_tput, "request_goodput:": None, "output_throughput": m.out_tput,
            "total_token_throughput": m.out_tput + m.in_tput,
        }
        def q(metric: str, p: float) -> float:  # ITL: the per-token gaps, here each request's TPOT
            return m.q({"e2el": "e2e", "itl": "tpot"}.get(metric, metric), p)

        for metric, base in (("ttft", m.ttft), ("tpot", m.tpot), ("itl", m.itl), ("e2el", m.e2e)):
            record |= {f"mean_{metric}_ms": base, f"median_{metric}_ms": q(metric, 50), f"std_{metric}_ms": base * 0.05,
                       f"p50_{metric}_ms": q(metric, 50), f"p90_{metric}_ms": q(metric, 90),
                       f"p99_{metric}_ms": q(metric, 99)}
        stdout = (f"Traffic request rate: {m.rate or 'inf'}\nBurstiness factor: 1.0 (Poisson process)\n"
                  f"Maximum request concurrency: {m.concurrency}\n" + serving_table([
                      ("Successful requests:", m.prompts), ("Benchmark duration (s):", m.duration),
                      ("Total input tokens:", m.in_tokens), ("Total generated tokens:", m.out_tokens),
                      ("Request throughput (req/s):", m.req_tput), ("Output token throughput (tok/s):", m.out_tput),
                      ("Total Token throughput (tok/s):", m.out_tput + m.in_tput), ("-Time to First Token-", ""),
                      ("Mean TTFT (ms):", m.ttft), ("Median TTFT (ms):", m.q("ttft", 50)),
                      ("P99 TTFT (ms):", m.q("ttft", 99))]))
        return stdout, {"result.json": json.dumps(record | detail_arrays(m))}


class VllmBenchmarkServing(VllmClient):
    name = parser = "vllm-benchmark-serving"
    runs = "benchmark_serving.py"
    head = ("python3", "/workspace/vllm/benchmarks/benchmark_serving.py")


class VllmBenchServe(VllmClient):
    name = parser = "vllm-bench-serve"
    runs = "vllm bench serve"
    head = ("vllm", "bench", "serve")
