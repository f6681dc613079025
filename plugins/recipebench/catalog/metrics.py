"""What a benchmark measures, named once: the columns every parser fills and the results table holds.

Metric names mean different things across tools (read in each tool's printing code: sglang
python/sglang/bench_serving.py, vLLM vllm/benchmarks/serve.py, tensorrt_llm/bench, AIPerf, llmperf
token_benchmark_ray.py): each column has
exactly one meaning here. Parsers map each tool's metric onto it or, when the tool's metric means
something else, keep it in `extra` under the tool's own name. Types are BigQuery standard SQL
names (DuckDB types derive from them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # STRING, INT64, FLOAT64, BOOL, TIMESTAMP, JSON
    unit: str
    meaning: str
    required: bool = False


def _latency(metric: str, meaning: str) -> list[Column]:
    stats = {"mean": "mean", "median": "median (p50)", "p90": "90th percentile", "p99": "99th percentile"}
    return [Column(f"{metric}_{s}_ms", "FLOAT64", "ms", f"{label} of {meaning}") for s, label in stats.items()]


MEASURED: tuple[Column, ...] = (
    Column("input_len", "INT64", "tokens", "configured input length per request"),
    Column("output_len", "INT64", "tokens", "configured output length per request"),
    Column("concurrency", "INT64", "requests", "configured maximum in-flight requests (NULL: unbounded)"),
    Column("request_rate", "FLOAT64", "req/s", "configured arrival rate (NULL: all at once / inf)"),
    Column("num_prompts", "INT64", "requests", "requests sent"),
    Column("completed", "INT64", "requests", "requests that succeeded"),
    Column("failed", "INT64", "requests", "requests that failed (reported or sent - completed)"),
    Column("duration_s", "FLOAT64", "s", "benchmark wall time"),
    Column("total_input_tokens", "INT64", "tokens", "input tokens of successful requests"),
    Column("total_output_tokens", "INT64", "tokens", "output tokens of successful requests"),
    Column("request_throughput", "FLOAT64", "req/s", "successful requests per second"),
    Column("input_throughput", "FLOAT64", "tokens/s", "input tokens per second"),
    Column("output_throughput", "FLOAT64", "tokens/s", "output tokens per second, whole system"),
    Column("total_throughput", "FLOAT64", "tokens/s", "input + output tokens per second"),
    Column("output_throughput_per_gpu", "FLOAT64", "tokens/s/GPU", "output_throughput / GPUs held (derived)"),
    Column("tokens_per_s_per_user", "FLOAT64", "tokens/s/user", "interactivity: 1000 / median TPOT (derived)"),
    *_latency("ttft", "time to first token, successful requests"),
    *_latency("tpot", "time per output token excluding the first, per request ((e2e - ttft) / (out - 1))"),
    *_latency("itl", "gap between consecutive output chunks, pooled over all requests"),
    *_latency("e2e", "request latency, send to last token"),
)
MEASURED_NAMES = tuple(c.name for c in MEASURED)


def percentile(values: list[float], p: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default), as vLLM and sglang compute; None
    without values."""
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


@dataclass(frozen=True)
class Request:
    """One request of a point, from the tool's per-request records (parsers.requests): what SLO attainment
    and goodput are computed from (results.slo). Latencies in ms; TPOT = (E2E - TTFT) / (tokens - 1),
    ITL the mean gap between its chunks."""

    ok: bool
    ttft_ms: float | None = None
    tpot_ms: float | None = None
    itl_ms: float | None = None
    e2e_ms: float | None = None
    output_tokens: int | None = None
