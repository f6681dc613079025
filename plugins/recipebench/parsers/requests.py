"""Per-request records, whatever tool wrote them, as one list of `Request`s: what goodput and SLO
attainment are computed from (results.slo).

The formats, from each tool's writing code:
- sglang.bench_serving `--output-details` (python/sglang/bench_serving.py, benchmark(): the result line
  merged with `input_lens`, `output_lens`, `ttfts` (s), `itls` (a list per request, s), `generated_texts`,
  `errors`; a failed request has output_len 0, ttft 0 and a non-empty error);
- vLLM `--save-detailed` (benchmarks/benchmark_serving.py of v0.9, `vllm bench serve` later: the same
  arrays; 2026 releases also keep `latencies` (s) per request);
- AIPerf `profile_export.jsonl` (one record per request: `metrics.{time_to_first_token,
  inter_token_latency, request_latency, output_sequence_length}` as `{value, unit}`, `error` null or an
  object);
- trtllm-bench `--request_json` (a list per request: start / first_token / end timestamps in ns,
  `num_generated_tokens`, `error_tokens`).
Per request: TTFT, TPOT = (E2E - TTFT) / (output tokens - 1) (undefined for one token), the mean gap
between its chunks (its ITL), E2E, and its output tokens.
"""

from __future__ import annotations

import json
import math
from typing import Any

from recipebench.catalog.metrics import Request
from recipebench.parsers.common import TO_MS, ParseError, number  # number: a finite float, else None


def _tpot(e2e: float | None, ttft: float | None, out: int | None) -> float | None:
    if e2e is None or ttft is None or not out or out < 2:
        return None
    return (e2e - ttft) / (out - 1)


def from_arrays(obj: dict, source: str) -> list[Request]:
    """sglang --output-details / vLLM --save-detailed: parallel arrays, seconds."""
    ttfts, itls, outs = obj.get("ttfts"), obj.get("itls"), obj.get("output_lens")
    if not isinstance(ttfts, list) or not isinstance(itls, list) or not isinstance(outs, list):
        raise ParseError(source, "per-request details need the ttfts, itls and output_lens arrays")
    errors: list = obj["errors"] if isinstance(obj.get("errors"), list) else [""] * len(ttfts)
    latencies = obj.get("latencies") if isinstance(obj.get("latencies"), list) else None
    if len({len(ttfts), len(itls), len(outs), len(errors)}) != 1:
        raise ParseError(source, f"per-request arrays of different lengths (ttfts {len(ttfts)}, itls {len(itls)}, "
                                 f"output_lens {len(outs)}, errors {len(errors)}): the file is cut or corrupt")
    out: list[Request] = []
    for i, (ttft_s, gaps, n, error) in enumerate(zip(ttfts, itls, outs, errors, strict=True)):
        if error or not n:
            out.append(Request(ok=False))
            continue
        ttft = number(ttft_s)
        ttft = None if ttft is None else ttft * 1000
        total, chunks = _gaps(gaps or [])
        latency = number(latencies[i]) if latencies else None
        e2e = latency * 1000 if latency is not None else (None if ttft is None else ttft + total * 1000)
        count = int(n)
        out.append(Request(True, ttft, _tpot(e2e, ttft, count), total * 1000 / chunks if chunks else None, e2e, count))
    return out


def _gaps(gaps: list) -> tuple[float, int]:
    """(sum in s, count) of a request's chunk gaps; a value that is not a finite number is left out."""
    try:
        total = math.fsum(gaps)  # the common case: every gap a number
        if math.isfinite(total):
            return total, len(gaps)
    except TypeError:
        pass
    finite = [g for g in (number(x) for x in gaps) if g is not None]
    return math.fsum(finite), len(finite)


def _metric(record: dict, tag: str) -> float | None:
    metric = (record.get("metrics") or {}).get(tag)
    if not isinstance(metric, dict):
        return None
    value = number(metric.get("value"))
    return None if value is None else value * TO_MS.get(str(metric.get("unit") or "ms").lower(), 1.0)


def from_aiperf(records: list[dict]) -> list[Request]:
    out = []
    for r in records:
        if r.get("error"):
            out.append(Request(ok=False))
            continue
        metrics = r.get("metrics") or {}
        n = metrics.get("output_sequence_length")
        count = int(number(n.get("value")) or 0) if isinstance(n, dict) else None
        ttft = _metric(r, "time_to_first_token") or _metric(r, "ttft")  # the tag of the Oct-2025 layout
        e2e = _metric(r, "request_latency")
        tpot = _metric(r, "inter_token_latency")  # AIPerf's per request: (E2E - TTFT) / (tokens - 1)
        chunks = (metrics.get("inter_chunk_latency") or {}).get("value")
        gaps = [g for g in (number(x) for x in chunks) if g is not None] if isinstance(chunks, list) else []
        out.append(Request(True, ttft, tpot if tpot is not None else _tpot(e2e, ttft, count),
                           sum(gaps) / len(gaps) if gaps else tpot, e2e, count))
    return out


def from_trtllm(rows: list[dict]) -> list[Request]:
    out = []
    for r in rows:
        if r.get("error_tokens"):
            out.append(Request(ok=False))
            continue
        start, first, end = (number(r.get(k)) for k in ("start_timestamp", "first_token_timestamp", "end_timestamp"))
        n = int(number(r.get("num_generated_tokens")) or number(r.get("num_total_output_tokens")) or 0)
        ttft = None if start is None or first is None else (first - start) / 1e6
        e2e = None if start is None or end is None else (end - start) / 1e6
        tpot = _tpot(e2e, ttft, n)
        out.append(Request(True, ttft, tpot, tpot, e2e, n))
    return out


def parse_requests(text: str, source: str) -> list[Request]:
    """The per-request records of a tool's file (detected from its content); ParseError when it holds none."""
    stripped = text.strip()
    if not stripped:
        raise ParseError(source, "empty per-request file")
    try:
        whole: Any = json.loads(stripped)
        objs = [whole]
    except ValueError:
        try:
            objs = [json.loads(line) for line in stripped.splitlines() if line.strip()]
        except ValueError as exc:
            raise ParseError(source, f"per-request records are not JSON or JSON lines: {exc}") from None
        whole = None
    if isinstance(whole, list) and whole and isinstance(whole[0], dict) and "first_token_timestamp" in whole[0]:
        return from_trtllm(whole)
    if objs and all(isinstance(o, dict) and "metrics" in o and "metadata" in o for o in objs):
        return from_aiperf(objs)
    with_arrays = [o for o in objs if isinstance(o, dict) and isinstance(o.get("ttfts"), list)]
    if with_arrays:
        return from_arrays(with_arrays[-1], source)  # a JSON-lines file appends a run per line: the last
    raise ParseError(source, "no per-request records (sglang --output-details / vLLM --save-detailed arrays, AIPerf "
                             "profile_export.jsonl records or trtllm-bench --request_json)")
