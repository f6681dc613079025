"""Benchmark outputs the simulator prints, in each real tool's format.

Numbers come from a small load model (latency grows with concurrency and lengths) with a little
seeded noise, so runs differ the way real nights do. They are test data, never measurements:
runs against the simulator are marked simulated in the warehouse.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import random
import re
import shlex
from dataclasses import dataclass

from recipebench.clients import Measured, client, running
from recipebench.clients.base import STDOUT, trial_file
from recipebench.manifests.command_lines import TRIAL, WARMUP_BEGIN, WARMUP_DONE, frame_outputs, warmup_pass

POINT = re.compile(r"^(?:s\d+-)?i(?P<i>\d+)-o(?P<o>\d+)-c(?P<c>\d+|max)-r(?P<r>[\d.]+|inf)-n(?P<n>\d+)$")


# A server that has just started serves its first requests slowly: sglang and vLLM capture CUDA graphs
# and compile kernels for batch shapes they meet for the first time, TensorRT-LLM tunes its kernels.
# The simulator gives the first COLD_REQUESTS a server sees an extra wait for the first token and
# slower decoding; a warm-up that covers them keeps them out of the measured trials (scenario
# cold-first-trial: the server stays cold for COLD_LONG requests, longer than any warm-up here).
COLD_REQUESTS = 8
COLD_LONG = 1500
COLD_TTFT_MS = 2000.0  # extra wait for the first token of a cold request
COLD_TPOT = 0.5  # a cold request's decoding is this much slower


# The load model of the simulated server: continuous batching with a KV cache that holds KV_REQUESTS
# requests. Its shape was fitted to the recorded vLLM v0.9-era sweep (fixture
# vllm/v0.9era-save-result-9runs.jsonl: at 10 -> 30 req/s median TPOT 13.6 -> 24.7 ms and median TTFT 53 ->
# 74 ms, with ~29 -> ~140 requests in flight by Little's law; all at once, TPOT 44-53 ms and 8.3-11k tok/s,
# the flattening) and to sglang's 7-rate sweep (fixture sglang/v0.4.0era-output-file-llama3.3-70b-online-
# 7runs.jsonl: output throughput 537 -> 4,288 tok/s flattening, median TTFT 86 -> 614 ms as the rate nears
# saturation):
# - TPOT grows linearly with the batch: TPOT_BASE_MS + TPOT_PER_REQUEST_MS x requests in flight, so output
#   throughput (batch / TPOT) flattens towards 1000 / TPOT_PER_REQUEST_MS tokens/s;
# - TTFT is a prefill that slows with the batch, plus a queue once more requests are in flight than the KV
#   cache holds (they wait for a slot: TTFT grows without bound past saturation);
# - each request's TTFT and TPOT vary around the point's mean (lognormal), more widely as the batch nears
#   the KV cache's size, so p99 rises faster than the median near saturation.
# Deterministic per seed; RECIPEBENCH_SIM_NOISE (default 0.02) is the run-to-run noise of the means. The
# scenario saturates-early halves the capacity (half the KV cache, twice the per-request decode cost).
TPOT_BASE_MS = 10.7
TPOT_PER_REQUEST_MS = 0.1
PREFILL_BASE_MS = 30.0
PREFILL_MS_PER_TOKEN = 0.02
PREFILL_BATCH = 128.0  # the prefill slows by 1 + batch / PREFILL_BATCH (chunked prefill shares the steps)
KV_REQUESTS = 512
TTFT_SIGMA = (0.12, 0.6)  # lognormal sigma of a request's TTFT: at an idle server, added at a full KV cache
TPOT_SIGMA = (0.05, 0.2)


def noise_level() -> float:
    return float(os.environ.get("RECIPEBENCH_SIM_NOISE", "0.02"))


@dataclass
class Load:
    input_len: int
    output_len: int
    concurrency: int | None
    rate: float | None
    prompts: int
    slowdown: float = 1.0  # per-token latencies x this (the slower-20 scenario: a server 20% slower)
    cold: int = 0  # of the prompts, how many the server served cold (COLD_REQUESTS)
    capacity: float = 1.0  # the server's capacity x this (saturates-early: 0.5)


def load_of(point_id: str) -> Load:
    m = POINT.match(point_id)
    if not m:
        raise ValueError(f"not a point id: {point_id}")
    return Load(int(m["i"]), int(m["o"]), None if m["c"] == "max" else int(m["c"]),
                None if m["r"] == "inf" else float(m["r"]), int(m["n"]))


def _latencies(load: Load, batch: float, noise) -> tuple[float, float, float]:
    """(TTFT ms without queueing, TPOT ms, E2E ms) of a request in a batch of `batch` requests."""
    tpot = (TPOT_BASE_MS + TPOT_PER_REQUEST_MS / load.capacity * batch) * noise() * load.slowdown
    ttft = (PREFILL_BASE_MS + PREFILL_MS_PER_TOKEN * load.input_len * (1 + batch / PREFILL_BATCH)) * noise() * load.slowdown
    return ttft, tpot, ttft + tpot * (load.output_len - 1)


def _batch(load: Load, kv: float, noise) -> tuple[float, float]:
    """(requests decoding at once, mean seconds a request waits for a KV slot)."""
    if load.rate is None:  # a concurrency cap (or all at once): that many in flight, the rest queue
        offered = min(load.concurrency or load.prompts, load.prompts)
        batch = min(offered, kv)
        if offered <= kv:
            return batch, 0.0
        e2e_s = _latencies(load, batch, lambda: 1.0)[2] / 1000
        return batch, (offered - kv) * e2e_s / kv  # each of the waiting waits for slots to free up
    batch = 1.0  # a rate: Little's law, batch = rate x E2E(batch), solved by iteration
    for _ in range(50):
        batch = min(kv, load.rate * _latencies(load, batch, lambda: 1.0)[2] / 1000)
    served = batch / (_latencies(load, batch, lambda: 1.0)[2] / 1000)  # requests/s the batch completes
    if load.rate <= served * 1.0001:
        return batch, 0.0
    # arrivals faster than service: the queue grows through the run; a request waits half the backlog on average
    arrival_s = load.prompts / load.rate
    return batch, (load.prompts / served - arrival_s) / 2


def _model(load: Load, seed: str, means: tuple[float, float] | None = None) -> dict:
    rnd = random.Random(int(hashlib.sha256(seed.encode()).hexdigest()[:8], 16))
    level = noise_level()
    noise = lambda: rnd.uniform(1 - level, 1 + level)  # noqa: E731
    kv = KV_REQUESTS * load.capacity
    batch, queue_s = _batch(load, kv, noise)
    cold = min(load.cold, load.prompts) / max(load.prompts, 1)  # the share of the requests served cold
    ttft, tpot, _ = _latencies(load, batch, noise)
    tpot *= 1 + COLD_TPOT * cold
    ttft += queue_s * 1000 + COLD_TTFT_MS * cold
    e2e = ttft + tpot * (load.output_len - 1)
    mean_in, mean_out = means or (load.input_len, load.output_len)  # the lengths the client drew
    out_tokens, in_tokens = round(load.prompts * mean_out), round(load.prompts * mean_in)
    # the batch's pace: a request waiting for a slot does not make the batch faster or slower
    req_tput = batch / ((e2e - queue_s * 1000) / 1000)
    if load.rate is not None:
        req_tput = min(load.rate, req_tput)
    duration = load.prompts / req_tput
    return {"conc": req_tput * e2e / 1000, "tpot": tpot, "ttft": ttft, "e2e": e2e, "duration": duration,
            "in_tokens": in_tokens, "out_tokens": out_tokens, "req_tput": req_tput,
            "out_tput": out_tokens / duration, "in_tput": in_tokens / duration, "itl": tpot * 0.97,
            "utilisation": batch / kv, "mean_out": mean_out, "rnd": rnd, "queue_ms": queue_s * 1000}


def requests(m: dict, n: int) -> list[tuple[float, float, float, int]]:
    """Each request's (TTFT ms, TPOT ms, E2E ms, output tokens), around the point's means: its own time to
    the first token lognormal with a sigma that widens as the batch fills the KV cache (mean-preserving:
    exp(sigma z - sigma^2 / 2)), plus its wait for a KV slot, which grows with its place in the queue
    (spread evenly from 0 to twice the mean wait: a queue drains at the batch's pace)."""
    rnd, u, queue = m["rnd"], m["utilisation"], m["queue_ms"]
    s_ttft, s_tpot = TTFT_SIGMA[0] + TTFT_SIGMA[1] * u * u, TPOT_SIGMA[0] + TPOT_SIGMA[1] * u * u
    out = round(m["mean_out"])
    rows = []
    for i in range(n):
        wait = queue * (2 * i + 1) / n
        ttft = (m["ttft"] - queue) * math.exp(s_ttft * rnd.gauss(0, 1) - s_ttft ** 2 / 2) + wait
        tpot = m["tpot"] * math.exp(s_tpot * rnd.gauss(0, 1) - s_tpot ** 2 / 2)
        rows.append((ttft, tpot, ttft + tpot * (out - 1), out))
    return rows


def measured(load: Load, seed: str, means: tuple[float, float] | None = None, failed: int = 0) -> Measured:
    """The load model's figures at one point, as every client prints them, with its requests."""
    m = _model(load, seed, means)
    return Measured(load.input_len, load.output_len, load.concurrency, load.rate, load.prompts, conc=m["conc"],
                    ttft=m["ttft"], tpot=m["tpot"], itl=m["itl"], e2e=m["e2e"], duration=m["duration"],
                    in_tokens=m["in_tokens"], out_tokens=m["out_tokens"], req_tput=m["req_tput"],
                    in_tput=m["in_tput"], out_tput=m["out_tput"], seed=seed, failed=failed,
                    requests=tuple(requests(m, load.prompts)))


def corrupt(files: dict[str, str]) -> dict[str, str]:
    """What a crashed writer or a full disk leaves: the first third of each file."""
    return {name: text[: max(len(text) // 3, 1)] for name, text in files.items()}


def _argv(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError:
        return line.split()


def bench_log(script: str, point_id: str, seed: str, broken: bool, slowdown: float = 1.0,
              completed_share: float = 1.0, output_share: float = 1.0, served: int = 0,
              cold_requests: int = COLD_REQUESTS, capacity: float = 1.0) -> tuple[list[str], int]:
    """What a benchmark Job's pod prints, and how many requests the server has served after it: its
    warm-up (the client's option, or a pass of its own), then each trial of the client its script runs,
    in that client's own format (command_lines.client_script). served: the requests the server saw
    before this Job (the first cold_requests of a server's life are slow). completed_share: the requests
    that succeed (the rest fail); output_share: how much of each output the server generates before
    it stops (a server that answers fast and short)."""
    client = running(script)
    if client is None:
        raise ValueError("no known benchmark client in the job's script")
    trial_lines = [ln for ln in script.split("\n") if running(ln) is not None and "| tee" in ln]
    argv = _argv(trial_lines[0] if trial_lines else script)
    load = dataclasses.replace(load_of(point_id), slowdown=slowdown, capacity=capacity)
    means = client.drawn_means(argv) or (load.input_len, load.output_len)
    means = (means[0], means[1] * output_share)
    completed = round(load.prompts * completed_share)
    lines: list[str] = []
    warm = warmup_pass(script)
    if warm is not None:  # a pass of its own before the trials
        served += warm
        lines += [WARMUP_BEGIN.format(n=warm), WARMUP_DONE.format(n=warm, status=0)]
    elif WARMUP_DONE.split("{")[0] in script:  # a pass it could run, of 0 requests
        lines.append(WARMUP_DONE.format(n=0, status=0))
    files: dict[str, str] = {}
    repeats = len(trial_lines) or 1
    for k in range(1, repeats + 1):
        served += client.warmup_in(argv)  # the client's own warm-up, before each of its runs
        cold = max(0, min(cold_requests - served, load.prompts))
        stdout, trial = client.simulated(measured(dataclasses.replace(load, prompts=completed, cold=cold),
                                                  f"{seed}/t{k}", means, failed=load.prompts - completed))
        served += load.prompts
        lines += [TRIAL.format(k=k, repeats=repeats), *stdout.split("\n")]
        files |= {trial_file(k, n): text for n, text in {**trial, STDOUT: stdout}.items()}
    if broken:
        files = corrupt(files)
    return lines + frame_outputs(files), served


def offline_log(script: str, seed: str, broken: bool, slowdown: float = 1.0,
                cold_requests: int = COLD_REQUESTS) -> list[str]:
    """The offline Job (trtllm-bench): one text and one JSON report per trial of each point, as its
    script prints them. Every trtllm-bench call loads the model anew: its own --warmup is what keeps
    the cold requests out of that trial."""
    bench = client("trtllm-bench")
    lines, files = ["[TensorRT-LLM] TensorRT-LLM version: 1.3.0rc5"], dict[str, str]()
    for line in script.split("\n"):
        m = re.search(r"--report_json /results/t(\d+)\.(\S+)\.json", line)
        if not m:
            continue
        k, point_id = int(m[1]), m[2]
        load = load_of(point_id)
        cold = max(0, min(cold_requests - bench.warmup_in(_argv(line)), load.prompts))
        text, reports = bench.simulated(measured(dataclasses.replace(load, slowdown=slowdown, cold=cold),
                                                 f"{seed}/{point_id}/t{k}"))
        lines += text.split("\n")
        files |= {trial_file(k, f"{point_id}.json"): reports["report.json"],
                  trial_file(k, f"{point_id}.txt"): reports["report.txt"],
                  trial_file(k, f"{point_id}.requests.json"): reports["requests.json"]}
    return lines + frame_outputs(corrupt(files) if broken else files)


def accuracy_log(questions_jsonl: str | None, wrong: bool) -> list[str]:
    """What the accuracy Job prints: the project's GSM8K client's summary, then its answers file. The
    simulated server knows each question's reference answer and gives it with a line of working (the
    wrong-answers scenario: text with no number in it, fast); no questions: the client fails."""
    import json

    if not questions_jsonl:
        return ["FileNotFoundError: [Errno 2] No such file or directory: '/accuracy/test.jsonl'"]
    answers = []
    for i, line in enumerate(ln for ln in questions_jsonl.splitlines() if ln.strip()):
        reference = json.loads(line)["answer"]
        final = reference.rsplit("####", 1)[-1].strip()
        text = " I am not sure, the weather is nice today." if wrong else f" Working it through step by step.\n#### {final}"
        answers.append({"id": i, "reference": reference, "completion": text, "output_tokens": 12})
    body = "".join(json.dumps(a) + "\n" for a in answers)
    return [f"gsm8k: {len(answers)} questions, 0 errors, 4.2 s, answers in /results/accuracy.jsonl",
            *frame_outputs({"accuracy.jsonl": body})]
