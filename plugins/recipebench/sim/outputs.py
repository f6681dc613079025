"""Benchmark outputs the simulator prints, in each real tool's format.

Numbers come from a small load model (latency grows with concurrency and lengths) with a little
seeded noise, so runs differ the way real nights do. They are test data, never measurements:
runs against the simulator are marked simulated in the warehouse.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import re
from dataclasses import dataclass

from recipebench.manifests.command_lines import frame_outputs

POINT = re.compile(r"^i(?P<i>\d+)-o(?P<o>\d+)-c(?P<c>\d+|max)-r(?P<r>[\d.]+|inf)-n(?P<n>\d+)$")


@dataclass
class Load:
    input_len: int
    output_len: int
    concurrency: int | None
    rate: float | None
    prompts: int
    slowdown: float = 1.0  # per-token latencies x this (the slower-20 scenario: a server 20% slower)


def load_of(point_id: str) -> Load:
    m = POINT.match(point_id)
    if not m:
        raise ValueError(f"not a point id: {point_id}")
    return Load(int(m["i"]), int(m["o"]), None if m["c"] == "max" else int(m["c"]),
                None if m["r"] == "inf" else float(m["r"]), int(m["n"]))


def _model(load: Load, seed: str) -> dict:
    rnd = random.Random(int(hashlib.sha256(seed.encode()).hexdigest()[:8], 16))
    noise = lambda: rnd.uniform(0.98, 1.02)  # noqa: E731
    conc = load.concurrency or min(load.prompts, 256)
    tpot = (12.0 + 0.05 * conc) * noise() * load.slowdown
    ttft = (30.0 + 0.02 * load.input_len * (1 + conc / 64)) * noise() * load.slowdown
    e2e = ttft + tpot * (load.output_len - 1)
    duration = load.prompts * e2e / 1000 / conc
    out_tokens = load.prompts * load.output_len
    return {"conc": conc, "tpot": tpot, "ttft": ttft, "e2e": e2e, "duration": duration,
            "in_tokens": load.prompts * load.input_len, "out_tokens": out_tokens,
            "req_tput": load.prompts / duration, "out_tput": out_tokens / duration,
            "in_tput": load.prompts * load.input_len / duration, "itl": tpot * 0.97}


def _table(rows: list[tuple[str, object]]) -> str:
    lines = ["", "{s:{c}^{n}}".format(s=" Serving Benchmark Result ", n=50, c="=")]
    for label, value in rows:
        if label.startswith("-"):
            lines.append("{s:{c}^{n}}".format(s=label.strip("-"), n=50, c="-"))
        else:
            lines.append("{:<40} {:<10}".format(label, f"{value:.2f}" if isinstance(value, float) else value))
    lines.append("=" * 50)
    return "\n".join(lines) + "\n"


def sglang(load: Load, seed: str) -> tuple[str, dict[str, str]]:
    m = _model(load, seed)
    record = {
        "backend": "sglang", "dataset_name": "random", "request_rate": load.rate if load.rate else float("inf"),
        "max_concurrency": load.concurrency, "sharegpt_output_len": None, "random_input_len": load.input_len,
        "random_output_len": load.output_len, "random_range_ratio": 1.0, "duration": m["duration"],
        "completed": load.prompts, "total_input_tokens": m["in_tokens"], "total_output_tokens": m["out_tokens"],
        "total_output_tokens_retokenized": m["out_tokens"] - 3, "request_throughput": m["req_tput"],
        "input_throughput": m["in_tput"], "output_throughput": m["out_tput"],
        "mean_e2e_latency_ms": m["e2e"], "median_e2e_latency_ms": m["e2e"] * 0.99, "std_e2e_latency_ms": m["e2e"] * 0.05,
        "p99_e2e_latency_ms": m["e2e"] * 1.2, "mean_ttft_ms": m["ttft"], "median_ttft_ms": m["ttft"] * 0.98,
        "std_ttft_ms": m["ttft"] * 0.1, "p99_ttft_ms": m["ttft"] * 1.6, "mean_tpot_ms": m["tpot"],
        "median_tpot_ms": m["tpot"] * 0.99, "std_tpot_ms": m["tpot"] * 0.03, "p99_tpot_ms": m["tpot"] * 1.1,
        "mean_itl_ms": m["itl"], "median_itl_ms": m["itl"] * 0.97, "std_itl_ms": m["itl"] * 0.2,
        "p95_itl_ms": m["itl"] * 1.3, "p99_itl_ms": m["itl"] * 1.8, "concurrency": m["conc"] * 0.96,
        "accept_length": None,
    }
    stdout = _table([
        ("Backend:", "sglang"), ("Traffic request rate:", "inf" if not load.rate else load.rate),
        ("Max request concurrency:", load.concurrency or "not set"), ("Successful requests:", load.prompts),
        ("Benchmark duration (s):", m["duration"]), ("Total input tokens:", m["in_tokens"]),
        ("Total generated tokens:", m["out_tokens"]), ("Total generated tokens (retokenized):", m["out_tokens"] - 3),
        ("Request throughput (req/s):", m["req_tput"]), ("Input token throughput (tok/s):", m["in_tput"]),
        ("Output token throughput (tok/s):", m["out_tput"]), ("Concurrency:", m["conc"] * 0.96),
        ("-End-to-End Latency-", ""), ("Mean E2E Latency (ms):", record["mean_e2e_latency_ms"]),
        ("Median E2E Latency (ms):", record["median_e2e_latency_ms"]), ("-Time to First Token-", ""),
        ("Mean TTFT (ms):", record["mean_ttft_ms"]), ("Median TTFT (ms):", record["median_ttft_ms"]),
        ("P99 TTFT (ms):", record["p99_ttft_ms"]), ("-Inter-Token Latency-", ""),
        ("Mean ITL (ms):", record["mean_itl_ms"]), ("Median ITL (ms):", record["median_itl_ms"]),
        ("P95 ITL (ms):", record["p95_itl_ms"]), ("P99 ITL (ms):", record["p99_itl_ms"])])
    return stdout, {"result.jsonl": json.dumps(record) + "\n"}


def vllm(load: Load, seed: str) -> tuple[str, dict[str, str]]:
    m = _model(load, seed)
    record = {
        "date": "20261123-010203", "backend": "vllm", "model_id": "simulated", "tokenizer_id": "simulated",
        "num_prompts": load.prompts, "request_rate": load.rate if load.rate else "inf", "burstiness": 1.0,
        "max_concurrency": load.concurrency, "duration": m["duration"], "completed": load.prompts,
        "total_input_tokens": m["in_tokens"], "total_output_tokens": m["out_tokens"],
        "request_throughput": m["req_tput"], "request_goodput:": None, "output_throughput": m["out_tput"],
        "total_token_throughput": m["out_tput"] + m["in_tput"],
    }
    for metric, base in (("ttft", m["ttft"]), ("tpot", m["tpot"]), ("itl", m["itl"]), ("e2el", m["e2e"])):
        record |= {f"mean_{metric}_ms": base, f"median_{metric}_ms": base * 0.99, f"std_{metric}_ms": base * 0.05,
                   f"p50_{metric}_ms": base * 0.99, f"p90_{metric}_ms": base * 1.2, f"p99_{metric}_ms": base * 1.5}
    stdout = (f"Traffic request rate: {load.rate or 'inf'}\nBurstiness factor: 1.0 (Poisson process)\n"
              f"Maximum request concurrency: {load.concurrency}\n" + _table([
                  ("Successful requests:", load.prompts), ("Benchmark duration (s):", m["duration"]),
                  ("Total input tokens:", m["in_tokens"]), ("Total generated tokens:", m["out_tokens"]),
                  ("Request throughput (req/s):", m["req_tput"]), ("Output token throughput (tok/s):", m["out_tput"]),
                  ("Total Token throughput (tok/s):", m["out_tput"] + m["in_tput"]), ("-Time to First Token-", ""),
                  ("Mean TTFT (ms):", m["ttft"]), ("Median TTFT (ms):", m["ttft"] * 0.99),
                  ("P99 TTFT (ms):", m["ttft"] * 1.5)]))
    return stdout, {"result.json": json.dumps(record)}


def aiperf(load: Load, seed: str) -> tuple[str, dict[str, str]]:
    m = _model(load, seed)

    def stat(unit, base):
        return {"unit": unit, "avg": base, "p1": base * 0.7, "p5": base * 0.75, "p10": base * 0.8, "p25": base * 0.9,
                "p50": base * 0.99, "p75": base * 1.05, "p90": base * 1.2, "p95": base * 1.3, "p99": base * 1.5,
                "min": base * 0.6, "max": base * 1.7, "std": base * 0.1}

    export = {
        "schema_version": "1.4", "aiperf_version": "0.13.0", "benchmark_id": hashlib.md5(seed.encode()).hexdigest(),
        "request_throughput": {"unit": "requests/sec", "avg": m["req_tput"]},
        "request_latency": stat("ms", m["e2e"]), "time_to_first_token": stat("ms", m["ttft"]),
        "inter_token_latency": stat("ms", m["tpot"]), "request_count": {"unit": "requests", "avg": load.prompts},
        "output_token_throughput": {"unit": "tokens/sec", "avg": m["out_tput"]},
        "benchmark_duration": {"unit": "sec", "avg": m["duration"]},
        "total_isl": {"unit": "tokens", "avg": m["in_tokens"]}, "total_osl": {"unit": "tokens", "avg": m["out_tokens"]},
        "input_config": {"endpoint": {"model_names": ["simulated"], "type": "chat", "streaming": True},
                         "input": {"prompt": {"input_tokens": {"mean": load.input_len},
                                              "output_tokens": {"mean": load.output_len}}},
                         "loadgen": {"concurrency": load.concurrency, "request_count": load.prompts}},
        "was_cancelled": False, "error_summary": [],
    }
    return "NVIDIA AIPerf | LLM Metrics (see JSON export)\n", {"profile_export_aiperf.json": json.dumps(export, indent=2)}


def trtllm(load: Load, seed: str, version: str = "1.3.0rc5") -> tuple[str, dict[str, str]]:
    m = _model(load, seed)
    total_ms = m["duration"] * 1000
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
Number of requests:             {load.prompts}
Number of concurrent requests:  {m['conc'] * 0.96:.4f}
Average Input Length (tokens):  {load.input_len:.4f}
Average Output Length (tokens): {load.output_len:.4f}
===========================================================
= PERFORMANCE OVERVIEW
===========================================================
Request Throughput (req/sec):                     {m['req_tput']:.4f}
Total Output Throughput (tokens/sec):             {m['out_tput']:.4f}
Total Token Throughput (tokens/sec):              {m['out_tput'] + m['in_tput']:.4f}
Total Latency (ms):                               {total_ms:.4f}
Average request latency (ms):                     {m['e2e']:.4f}

-- Request Latency Breakdown (ms) -----------------------

[Latency] P50    : {m['e2e'] * 0.99:.4f}
[Latency] P90    : {m['e2e'] * 1.2:.4f}
[Latency] P95    : {m['e2e'] * 1.3:.4f}
[Latency] P99    : {m['e2e'] * 1.5:.4f}
[Latency] MINIMUM: {m['e2e'] * 0.6:.4f}
[Latency] MAXIMUM: {m['e2e'] * 1.7:.4f}
[Latency] AVERAGE: {m['e2e']:.4f}
===========================================================
"""
    report = {"engine": {"model": "simulated", "version": version, "backend": "Pytorch"},
              "world_info": {"tp_size": 4, "pp_size": 1, "ep_size": 4},
              "request_info": {"num_requests": load.prompts, "avg_num_concurrent_requests": m["conc"] * 0.96,
                               "avg_input_length": load.input_len, "avg_output_length": load.output_len},
              "performance": {"total_latency_ms": total_ms, "avg_request_latency_ms": m["e2e"],
                              "request_throughput_req_s": m["req_tput"], "system_output_throughput_tok_s": m["out_tput"],
                              "system_total_throughput_tok_s": m["out_tput"] + m["in_tput"],
                              "request_latency_percentiles_ms": {"p50": m["e2e"] * 0.99, "p90": m["e2e"] * 1.2,
                                                                 "p99": m["e2e"] * 1.5, "average": m["e2e"]}}}
    return text, {"report.txt": text, "report.json": json.dumps(report, indent=2)}


GENERATORS = {"sglang.bench_serving": sglang, "benchmark_serving.py": vllm, "vllm bench serve": vllm,
              "aiperf profile": aiperf}


def corrupt(files: dict[str, str]) -> dict[str, str]:
    """What a crashed writer or a full disk leaves: the first third of each file."""
    return {name: text[: max(len(text) // 3, 1)] for name, text in files.items()}


def bench_log(script: str, point_id: str, seed: str, broken: bool, slowdown: float = 1.0) -> list[str]:
    tool = next((k for k in GENERATORS if k in script), None)
    if tool is None:
        raise ValueError("no known benchmark client in the job's script")
    stdout, files = GENERATORS[tool](dataclasses.replace(load_of(point_id), slowdown=slowdown), seed)
    if broken:
        files = corrupt(files)
    return stdout.split("\n") + frame_outputs(files)


def offline_log(script: str, seed: str, broken: bool, slowdown: float = 1.0) -> list[str]:
    """trtllm-bench Job: one text and one JSON report per point, as the offline script prints them."""
    lines, files = ["[TensorRT-LLM] TensorRT-LLM version: 1.3.0rc5"], {}
    for point_id in re.findall(r"--report_json /results/(\S+)\.json", script):
        text, reports = trtllm(dataclasses.replace(load_of(point_id), slowdown=slowdown), f"{seed}/{point_id}")
        lines += text.split("\n")
        files |= {f"{point_id}.json": reports["report.json"], f"{point_id}.txt": reports["report.txt"]}
    return lines + frame_outputs(corrupt(files) if broken else files)
