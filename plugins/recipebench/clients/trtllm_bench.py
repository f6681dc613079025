"""trtllm-bench throughput, run by the offline workload itself (a Job from the NGC TensorRT-LLM
image): each point prepares its dataset and benchmarks the model in-process, no server."""

from __future__ import annotations

import json
import shlex

from recipebench.catalog.flags import to_flags
from recipebench.clients.base import RESULTS_DIR, BenchmarkClient, Measured, flag_value, trial_file

SIMULATED_VERSION = "1.3.0rc5"


class TrtllmBench(BenchmarkClient):
    name = parser = "trtllm-bench"
    result_files = ("{point}.json", "{point}.txt")
    request_file = "{point}.requests.json"  # --request_json: a record per request, timestamps in ns
    offline = True
    runs = "trtllm-bench"

    def length_flags(self, lengths, point):
        """prepare_dataset.py: token-norm-dist with stdev 0 (fixed) or token-unif-dist with inclusive
        min and max (benchmarks/cpp/prepare_dataset.py)."""
        i, o = point.input_len, point.output_len
        if lengths.min_fraction is None:
            return ["token-norm-dist", f"--input-mean={i}", f"--output-mean={o}", "--input-stdev=0", "--output-stdev=0"]
        return ["token-unif-dist", f"--input-min={lengths.shortest(i)}", f"--input-max={i}",
                f"--output-min={lengths.shortest(o)}", f"--output-max={o}"]

    def warmup_flags(self, n):
        """throughput's --warmup: n requests from the dataset run before the measured ones, with the
        same concurrency, outside the statistics (tensorrt_llm/bench/benchmark/throughput.py,
        throughput_command; default 2, so it is always stated)."""
        return ["--warmup", str(n)]

    def warmup_in(self, argv):
        return int(flag_value(argv, "--warmup") or 2)

    def point_script(self, recipe, point) -> str:
        """Prepare the dataset of one point and run trtllm-bench on it once per trial, keeping each
        trial's text and JSON reports (t<k>.<point>.json). The tokenizer is read from the weights the Job
        downloaded once (render._offline_script), not the Hub. Each trtllm-bench call loads the model
        anew, so every trial warms up."""
        flags, _ = to_flags(recipe.serving.args)
        model = recipe.model.name
        dataset = f"/ssd/dataset-{point.id}.json"
        lengths = self.length_flags(recipe.benchmark.lengths, point)
        prepare = ["python3", "/app/tensorrt_llm/benchmarks/cpp/prepare_dataset.py", f"--tokenizer=/ssd/{model}",
                   "--stdout", *lengths[:1], f"--num-requests={point.num_prompts}", *lengths[1:]]
        script = f"{shlex.join(prepare)} > {dataset}\n"
        for k in range(1, recipe.benchmark.repeats + 1):
            report = f"{RESULTS_DIR}/{trial_file(k, point.id + '.json')}"
            bench = ["trtllm-bench", "--model", model, "--model_path", f"/ssd/{model}", "throughput",
                     "--dataset", dataset, "--num_requests", str(point.num_prompts),
                     *(["--concurrency", str(point.concurrency)] if point.concurrency else []),
                     *self.warmup_flags(recipe.benchmark.warmup_for(point)), *flags, "--report_json", report,
                     "--request_json", f"{RESULTS_DIR}/{trial_file(k, point.id + '.requests.json')}"]
            script += f"{shlex.join(bench)} 2>&1 | tee {RESULTS_DIR}/{trial_file(k, point.id + '.txt')}\n"
        return script

    def simulated(self, m: Measured, version: str = SIMULATED_VERSION):
        """The text report (tensorrt_llm/bench/dataclasses/reporting.py, ReportUtility) and --report_json."""
        total_ms = m.duration * 1000
        text = f"""===========================================================
= PYTORCH BACKEND
===========================================================
Model:\t\t\tsimulated
TensorRT LLM Version:\t{version}
Dtype:\t\t\tbfloat16
Quantization:\t\tNVFP4

===========================================================
= REQUEST DETAILS
===========================================================
Number of requests:             {m.prompts}
Number of concurrent requests:  {m.conc * 0.96:.4f}
Average Input Length (tokens):  {m.input_len:.4f}
Average Output Length (tokens): {m.output_len:.4f}
===========================================================
= PERFORMANCE OVERVIEW
===========================================================
Request Throughput (req/sec):                     {m.req_tput:.4f}
Total Output Throughput (tokens/sec):             {m.out_tput:.4f}
Total Token Throughput (tokens/sec):              {m.out_tput + m.in_tput:.4f}
Total Latency (ms):                               {total_ms:.4f}
Average request latency (ms):                     {m.e2e:.4f}

-- Request Latency Breakdown (ms) -----------------------

[Latency] P50    : {m.q("e2e", 50):.4f}
[Latency] P90    : {m.q("e2e", 90):.4f}
[Latency] P95    : {m.q("e2e", 95):.4f}
[Latency] P99    : {m.q("e2e", 99):.4f}
[Latency] MINIMUM: {m.q("e2e", 0):.4f}
[Latency] MAXIMUM: {m.q("e2e", 100):.4f}
[Latency] AVERAGE: {m.e2e:.4f}
===========================================================
"""
        report = {"engine": {"model": "simulated", "version": version, "backend": "Pytorch"},
                  "world_info": {"tp_size": 4, "pp_size": 1, "ep_size": 4},
                  "request_info": {"num_requests": m.prompts, "avg_num_concurrent_requests": m.conc * 0.96,
                                   "avg_input_length": m.input_len, "avg_output_length": m.output_len},
                  "performance": {"total_latency_ms": total_ms, "avg_request_latency_ms": m.e2e,
                                  "request_throughput_req_s": m.req_tput, "system_output_throughput_tok_s": m.out_tput,
                                  "system_total_throughput_tok_s": m.out_tput + m.in_tput,
                                  "request_latency_percentiles_ms": {"p50": m.q("e2e", 50), "p90": m.q("e2e", 90),
                                                                     "p99": m.q("e2e", 99), "average": m.e2e}}}
        start, rows = 1_000_000_000, []
        for i, (ttft, _, e2e, out) in enumerate(m.requests):
            t0 = start + int(i * 1e9 / max(m.req_tput, 1e-9))
            rows.append({"id": i, "num_input_tokens": m.input_len, "error_tokens": 0, "start_timestamp": t0,
                         "first_token_timestamp": t0 + int(ttft * 1e6), "end_timestamp": t0 + int(e2e * 1e6),
                         "num_generated_tokens": out, "decode_iteration": out - 1})
        return text, {"report.txt": text, "report.json": json.dumps(report, indent=2), "requests.json": json.dumps(rows)}
