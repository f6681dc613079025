"""Benchmark outputs the simulator prints, in each real tool's format.

Numbers come from a small load model (latency grows with concurrency and lengths) with a little
seeded noise, so runs differ the way real nights do. They are test data, never measurements:
runs against the simulator are marked simulated in the warehouse.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import re
import shlex
from dataclasses import dataclass

from recipebench.clients import Measured, client, running
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


def _model(load: Load, seed: str, means: tuple[float, float] | None = None) -> dict:
    rnd = random.Random(int(hashlib.sha256(seed.encode()).hexdigest()[:8], 16))
    noise = lambda: rnd.uniform(0.98, 1.02)  # noqa: E731
    conc = load.concurrency or min(load.prompts, 256)
    tpot = (12.0 + 0.05 * conc) * noise() * load.slowdown
    ttft = (30.0 + 0.02 * load.input_len * (1 + conc / 64)) * noise() * load.slowdown
    e2e = ttft + tpot * (load.output_len - 1)
    duration = load.prompts * e2e / 1000 / conc
    mean_in, mean_out = means or (load.input_len, load.output_len)  # the lengths the client drew
    out_tokens, in_tokens = round(load.prompts * mean_out), round(load.prompts * mean_in)
    return {"conc": conc, "tpot": tpot, "ttft": ttft, "e2e": e2e, "duration": duration,
            "in_tokens": in_tokens, "out_tokens": out_tokens,
            "req_tput": load.prompts / duration, "out_tput": out_tokens / duration,
            "in_tput": in_tokens / duration, "itl": tpot * 0.97}


def measured(load: Load, seed: str, means: tuple[float, float] | None = None, failed: int = 0) -> Measured:
    """The load model's figures at one point, as every client prints them."""
    m = _model(load, seed, means)
    return Measured(load.input_len, load.output_len, load.concurrency, load.rate, load.prompts, conc=m["conc"],
                    ttft=m["ttft"], tpot=m["tpot"], itl=m["itl"], e2e=m["e2e"], duration=m["duration"],
                    in_tokens=m["in_tokens"], out_tokens=m["out_tokens"], req_tput=m["req_tput"],
                    in_tput=m["in_tput"], out_tput=m["out_tput"], seed=seed, failed=failed)


def corrupt(files: dict[str, str]) -> dict[str, str]:
    """What a crashed writer or a full disk leaves: the first third of each file."""
    return {name: text[: max(len(text) // 3, 1)] for name, text in files.items()}


def bench_log(script: str, point_id: str, seed: str, broken: bool, slowdown: float = 1.0,
              completed_share: float = 1.0, output_share: float = 1.0) -> list[str]:
    """What a benchmark Job's pod prints: the client its script runs, in that client's own format.
    completed_share: the requests that succeed (the rest fail); output_share: how much of each output
    the server generates before it stops (a server that answers fast and short)."""
    client = running(script)
    if client is None:
        raise ValueError("no known benchmark client in the job's script")
    try:
        argv = shlex.split(script)
    except ValueError:
        argv = script.split()
    load = dataclasses.replace(load_of(point_id), slowdown=slowdown)
    means = client.drawn_means(argv) or (load.input_len, load.output_len)
    means = (means[0], means[1] * output_share)
    completed = round(load.prompts * completed_share)
    stdout, files = client.simulated(measured(dataclasses.replace(load, prompts=completed), seed, means,
                                              failed=load.prompts - completed))
    if broken:
        files = corrupt(files)
    return stdout.split("\n") + frame_outputs(files)


def offline_log(script: str, seed: str, broken: bool, slowdown: float = 1.0) -> list[str]:
    """The offline Job (trtllm-bench): one text and one JSON report per point, as its script prints them."""
    bench = client("trtllm-bench")
    lines, files = ["[TensorRT-LLM] TensorRT-LLM version: 1.3.0rc5"], dict[str, str]()
    for point_id in re.findall(r"--report_json /results/(\S+)\.json", script):
        text, reports = bench.simulated(measured(dataclasses.replace(load_of(point_id), slowdown=slowdown),
                                                 f"{seed}/{point_id}"))
        lines += text.split("\n")
        files |= {f"{point_id}.json": reports["report.json"], f"{point_id}.txt": reports["report.txt"]}
    return lines + frame_outputs(corrupt(files) if broken else files)
