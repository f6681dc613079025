"""AIPerf, from an image of its own on the cluster's CPU pool: a standalone package, so it need not
match the server, and it never takes a node the server's GPUs occupy (on A4X the GPU nodes are the
only arm64 nodes and carry taints a client should not tolerate)."""

from __future__ import annotations

import hashlib
import json

from recipebench.clients.base import (
    RESULTS_DIR,
    BenchmarkClient,
    ClientImage,
    Measured,
    flag_value,
    tokenizer_dir,
    window_mean,
)

# 0.13.0 is the first AIPerf release with sglang's length window (--random-range-ratio with
# --random-corpus-style sglang); 0.8 had only normal or discrete length distributions.
VERSION = "0.13.0"


class Aiperf(BenchmarkClient):
    name = parser = "aiperf"
    result_files = ("profile_export_aiperf.json", "profile_export_aiperf.csv")
    # one record per request, written at --export-level records, AIPerf's default (its OutputConfig's
    # export_level defaults to ExportLevel.RECORDS; the record export processor disables itself below it)
    request_file = "profile_export.jsonl"
    image = ClientImage("aiperf-client", VERSION, "aiperf-client")
    runs = "aiperf profile"

    def length_flags(self, lengths, point):
        """--isl/--osl are the means; --random-range-ratio r with --random-corpus-style sglang draws from
        [max(1, int(mean*r)), mean] (AIPerf 0.13)."""
        flags = ["--isl", str(point.input_len), "--osl", str(point.output_len)]
        r = lengths.min_fraction
        return flags if r is None else [*flags, "--random-range-ratio", f"{r:g}", "--random-corpus-style", "sglang"]

    def load_flags(self, point):
        return ([*(["--concurrency", str(point.concurrency)] if point.concurrency else []),
                 *(["--request-rate", f"{point.request_rate:g}"] if point.request_rate else [])])

    def argv(self, recipe, point, host, port):
        # ignore_eos, as the upstream recipe's client (--ignore-eos): every request runs to its length
        return ["aiperf", "profile", "--model", recipe.served_model_name, "--tokenizer", tokenizer_dir(recipe),
                "--url", f"http://{host}:{port}", "--endpoint-type", recipe.benchmark.endpoint, "--streaming",
                *self.length_flags(recipe.benchmark.lengths, point), "--request-count", str(point.num_prompts),
                "--extra-inputs", "ignore_eos:true", "--export-level", "records", "--ui-type", "none",
                "--artifact-dir", RESULTS_DIR, *self.load_flags(point),
                *self.warmup_flags(recipe.benchmark.warmup_for(point)), *self.extra_flags(recipe)]

    def warmup_flags(self, n):
        """A warm-up phase at the point's own load, excluded from the metrics (loadgen_config.py,
        warmup_request_count; its Field is gt=0, so 0 is said by leaving it out)."""
        return ["--warmup-request-count", str(n)] if n else []

    def warmup_in(self, argv):
        return int(flag_value(argv, "--warmup-request-count") or 0)

    def drawn_means(self, argv):
        ratio = flag_value(argv, "--random-range-ratio")
        r = float(ratio) if ratio else None
        return window_mean(int(flag_value(argv, "--isl") or 0), r), window_mean(int(flag_value(argv, "--osl") or 0), r)

    def endpoint(self, recipe):
        return recipe.benchmark.endpoint  # --endpoint-type

    def simulated(self, m: Measured):
        """The profile export JSON (schema 1.4) of AIPerf 0.13."""
        def stat(unit, base, metric):
            return {"unit": unit, "avg": base, **{f"p{p}": m.q(metric, p) for p in (1, 5, 10, 25, 50, 75, 90, 95, 99)},
                    "min": m.q(metric, 0), "max": m.q(metric, 100), "std": base * 0.1}

        export = {
            "schema_version": "1.4", "aiperf_version": VERSION, "benchmark_id": hashlib.md5(m.seed.encode()).hexdigest(),
            "request_throughput": {"unit": "requests/sec", "avg": m.req_tput},
            "request_latency": stat("ms", m.e2e, "e2e"), "time_to_first_token": stat("ms", m.ttft, "ttft"),
            "inter_token_latency": stat("ms", m.tpot, "tpot"), "request_count": {"unit": "requests", "avg": m.prompts},
            "output_token_throughput": {"unit": "tokens/sec", "avg": m.out_tput},
            "benchmark_duration": {"unit": "sec", "avg": m.duration},
            "total_isl": {"unit": "tokens", "avg": m.in_tokens}, "total_osl": {"unit": "tokens", "avg": m.out_tokens},
            "input_config": {"endpoint": {"model_names": ["simulated"], "type": "chat", "streaming": True},
                             "input": {"prompt": {"input_tokens": {"mean": m.input_len},
                                                  "output_tokens": {"mean": m.output_len}}},
                             "loadgen": {"concurrency": m.concurrency, "request_count": m.prompts}},
            "was_cancelled": False,
            "error_summary": [{"error_details": {"code": 500, "type": "Internal Server Error",
                                                 "message": "simulated"}, "count": m.failed}] if m.failed else [],
        }
        return ("NVIDIA AIPerf | LLM Metrics (see JSON export)\n",
                {"profile_export_aiperf.json": json.dumps(export, indent=2), "profile_export.jsonl": _records(m)})


def _records(m: Measured) -> str:
    """profile_export.jsonl: a record per request (metadata, metrics as {value, unit}, error)."""
    lines = []
    for i, (ttft, tpot, e2e, out) in enumerate(m.requests):
        metrics = {"time_to_first_token": {"value": round(ttft, 3), "unit": "ms"},
                   "inter_token_latency": {"value": round(tpot, 3), "unit": "ms"},
                   "request_latency": {"value": round(e2e, 3), "unit": "ms"},
                   "output_sequence_length": {"value": out, "unit": "tokens"},
                   "input_sequence_length": {"value": m.input_len, "unit": "tokens"}}
        lines.append({"metadata": {"session_num": i, "x_request_id": f"sim-{i}", "benchmark_phase": "profiling"},
                      "metrics": metrics, "error": None})
    lines += [{"metadata": {"session_num": len(m.requests) + i, "benchmark_phase": "profiling"}, "metrics": {},
               "error": {"code": 500, "type": "Internal Server Error", "message": "simulated"}} for i in range(m.failed)]
    return "".join(json.dumps(r) + "\n" for r in lines)
