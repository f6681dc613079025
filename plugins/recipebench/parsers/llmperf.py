"""llmperf (token_benchmark_ray.py): the flat summary JSON and the individual-responses list.

Traps: numbers stored as strings, error codes as a Python dict repr, latencies in seconds, and an
`inter_token_latency_s` that includes TTFT (so it is not our TPOT: kept in extra under its name).
"""

from __future__ import annotations

import ast

from recipebench.parsers.common import Parsed, ParseError, integer, new_record, number, summary_ms

TOOL = "llmperf"


def is_summary(obj) -> bool:
    return isinstance(obj, dict) and any(k.startswith("results_") for k in obj)


def is_individual(obj) -> bool:
    return isinstance(obj, list) and bool(obj) and isinstance(obj[0], dict) and "ttft_s" in obj[0] and "error_code" in obj[0]


def _ms(obj: dict, metric: str, stat: str):
    v = number(obj.get(f"results_{metric}_{stat}"))
    return None if v is None else v * 1000


def parse_summary(obj: dict, source: str) -> Parsed:
    if "results_num_completed_requests" not in obj:
        raise ParseError(source, "expected an llmperf summary with results_num_completed_requests")
    per_min = number(obj.get("results_num_completed_requests_per_min"))
    record = new_record(
        TOOL,
        tool_version=obj.get("version"),
        completed=integer(obj.get("results_num_completed_requests")),
        failed=integer(obj.get("results_number_errors")),
        num_prompts=integer(obj.get("results_num_requests_started")),
        concurrency=integer(obj.get("num_concurrent_requests")),
        input_len=integer(obj.get("mean_input_tokens")),
        output_len=integer(obj.get("mean_output_tokens")),
        output_throughput=number(obj.get("results_mean_output_throughput_token_per_s")),
        request_throughput=None if per_min is None else per_min / 60,
    )
    for metric, col in (("ttft_s", "ttft"), ("end_to_end_latency_s", "e2e")):
        record |= {f"{col}_mean_ms": _ms(obj, metric, "mean"), f"{col}_median_ms": _ms(obj, metric, "quantiles_p50"),
                   f"{col}_p90_ms": _ms(obj, metric, "quantiles_p90"), f"{col}_p99_ms": _ms(obj, metric, "quantiles_p99")}
    freq = obj.get("results_error_code_frequency")
    try:
        codes = ast.literal_eval(freq) if isinstance(freq, str) and freq else (freq or {})
    except (ValueError, SyntaxError):
        codes = {"unparsed": freq}
    record["extra"] = {
        "model": obj.get("model"),
        "error_rate": number(obj.get("results_error_rate")),
        "error_code_frequency": {str(int(k)) if isinstance(k, float) else str(k): v for k, v in codes.items()},
        # llmperf's "inter-token latency" is (TTFT + all gaps) / output tokens: not TPOT, not ITL
        "llmperf_inter_token_latency_incl_ttft_mean_ms": _ms(obj, "inter_token_latency_s", "mean"),
        "llmperf_inter_token_latency_incl_ttft_median_ms": _ms(obj, "inter_token_latency_s", "quantiles_p50"),
        "completed_per_min": per_min,
        "timestamp": obj.get("timestamp"),
        **{k: v for k, v in obj.items() if k in ("framework", "model_size", "api")},
    }
    return Parsed(TOOL, [record])


def parse_individual(rows: list[dict], source: str) -> Parsed:
    ok = [r for r in rows if r.get("error_code") in (None, "")]
    failed = len(rows) - len(ok)
    record = new_record(TOOL, completed=len(ok), failed=failed, num_prompts=len(rows))
    for key, col in (("ttft_s", "ttft"), ("end_to_end_latency_s", "e2e")):
        record |= summary_ms([v * 1000 for r in ok if (v := number(r.get(key))) is not None], col)
    codes: dict[str, int] = {}
    for r in rows:
        if r.get("error_code") not in (None, ""):
            codes[str(r["error_code"])] = codes.get(str(r["error_code"]), 0) + 1
    record["total_input_tokens"] = sum(integer(r.get("number_input_tokens")) or 0 for r in ok)
    record["total_output_tokens"] = sum(integer(r.get("number_output_tokens")) or 0 for r in ok)
    record["extra"] = {"error_code_frequency": codes, "computed_from": "individual responses (seconds)"}
    return Parsed(TOOL, [record])
