"""sglang.bench_serving and vLLM benchmark_serving.py / `vllm bench serve`: printed tables and JSON.

The two tools share an ancestry: the same "Serving Benchmark Result" table and `*_ms` keys.
Differences handled here (python/sglang/bench_serving.py and vllm/benchmarks/serve.py, benchmark()): the misspelled
`Max reqeuest concurrency:` label, label casing drift, log prefixes, `Infinity`/"inf" rates,
`request_goodput:` with a colon, percentiles that follow --metric-percentiles (p99.9), failed
counts that exist only in recent vLLM, and per-request arrays in seconds.
"""

from __future__ import annotations

import re
from typing import Any

from recipebench.parsers.common import (
    Parsed,
    ParseError,
    clean_lines,
    integer,
    new_record,
    number,
    snake,
)

HEADER = "Serving Benchmark Result"
FOOTER = re.compile(r"^=+$")
ROW = re.compile(r"^(?P<label>[^:]+?):\s*(?P<value>.*)$")
LATENCY = re.compile(r"^(?P<stat>mean|median|p(?P<p>\d+(?:\.\d+)?)|max|std) (?P<metric>ttft|tpot|itl|e2el|e2e latency)"
                     r" \((?P<unit>ms|s|sec|us|µs)\)$")
TO_MS = {"ms": 1.0, "s": 1000.0, "sec": 1000.0, "us": 0.001, "µs": 0.001}  # a latency row's unit, to the schema's ms
METRIC = {"ttft": "ttft", "tpot": "tpot", "itl": "itl", "e2el": "e2e", "e2e latency": "e2e"}
# normalised label -> column; everything else goes to extra under its snake_case label
LABELS = {
    "successful requests": "completed",
    "failed requests": "failed",
    "benchmark duration (s)": "duration_s",
    "total input tokens": "total_input_tokens",
    "total generated tokens": "total_output_tokens",
    "request throughput (req/s)": "request_throughput",
    "input token throughput (tok/s)": "input_throughput",
    "output token throughput (tok/s)": "output_throughput",
    "total token throughput (tok/s)": "total_throughput",
    "max reqeuest concurrency": "concurrency",
    "max request concurrency": "concurrency",
    "maximum request concurrency": "concurrency",
    "traffic request rate": "request_rate",
    "request rate configured (rps)": "request_rate",
}
# datasets whose request lengths are random_input_len / random_output_len (sglang bench_serving.py
# sample_random_requests: random, random-ids; vLLM: random); for the others (sharegpt, sonnet,
# generated-shared-prefix, ...) both tools still write or print those arguments, as unused defaults
RANDOM_DATASETS = ("random", "random-ids")
SGLANG_MARKS = ("backend", "max reqeuest concurrency", "max request concurrency", "total generated tokens (retokenized)")


def _stat_column(stat: str, metric: str) -> str | None:
    m = METRIC[metric]
    if stat in ("mean", "median"):
        return f"{m}_{stat}_ms"
    if stat in ("p90", "p99"):
        return f"{m}_{stat}_ms"
    return None


NAMESPACE = re.compile(r"\b(?P<key>random_input_len|random_output_len|num_prompts|max_concurrency|request_rate|backend"
                       r"|dataset_name)=(?P<value>'[^']*'|[^,)]+)")


def _namespace(line: str) -> dict[str, Any]:
    found = {m["key"]: m["value"].strip("'") for m in NAMESPACE.finditer(line)}
    out: dict[str, Any] = {}
    lengths = found.get("dataset_name", "random") in RANDOM_DATASETS  # else the random_* are unused defaults
    for key, column in (("random_input_len", "input_len"), ("random_output_len", "output_len"),
                        ("num_prompts", "num_prompts"), ("max_concurrency", "concurrency")):
        if key in found and (lengths or column not in ("input_len", "output_len")):
            out[column] = integer(found[key])
    if "request_rate" in found:
        out["request_rate"] = number(found["request_rate"])
    return out


def parse_table(text: str, source: str) -> Parsed:
    """Every complete "Serving Benchmark Result" table of a log (several when it swept rates)."""
    lines = clean_lines(text)
    records: list[dict] = []
    context: dict[str, Any] = {}  # what the log said before the table (Namespace, rate, concurrency)
    i = 0
    tool = None
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith(("Namespace(", "benchmark_args=Namespace(")):
            context |= _namespace(line)
        elif line.startswith("Traffic request rate:") and HEADER not in lines[max(i - 1, 0)]:
            context["request_rate"] = number(line.split(":", 1)[1])
        elif line.startswith("Maximum request concurrency:"):
            context["concurrency"] = integer(line.split(":", 1)[1])
        if HEADER in line:
            record, i, labels = _read_table(lines, i + 1, source)
            this_tool = "sglang-bench-serving" if any(m in labels for m in SGLANG_MARKS) else "vllm-bench-serve"
            tool = tool or this_tool
            for key, value in context.items():
                record.setdefault(key, value)
            record["tool"] = this_tool
            if record.get("failed") is None and record.get("num_prompts") is not None and record.get("completed") is not None:
                record["failed"] = record["num_prompts"] - record["completed"]
            records.append(record)
            context = {k: v for k, v in context.items() if k in ("input_len", "output_len", "num_prompts")}
        i += 1
    if not records:
        raise ParseError(source, f"expected a '{HEADER}' table (sglang.bench_serving or vLLM benchmark_serving)")
    return Parsed(tool or "vllm-bench-serve", records)


def _sub_rows(lines: list[str], i: int) -> list[tuple[str, str]]:
    """The indented `label: value` rows under a label printed without a value (vLLM's
    "Per-position acceptance (%):" followed by "  Position 0:  74.34" rows, benchmarks/serve.py)."""
    rows = []
    while i < len(lines) and lines[i].startswith((" ", "\t")):
        row = ROW.match(lines[i].strip())
        if row is None:
            break
        rows.append((row["label"].strip(), row["value"].strip()))
        i += 1
    return rows


def _read_table(lines: list[str], i: int, source: str) -> tuple[dict, int, set[str]]:
    record = new_record("")
    labels: set[str] = set()
    last = "the header"
    start = i
    while i < len(lines):
        line = lines[i].strip()
        if FOOTER.match(line) and len(line) >= 20:
            if not labels:
                raise ParseError(source, "the result table is empty")
            return record, i, labels
        if HEADER in line:  # a second table began before this one closed: two runs' lines mixed
            raise ParseError(source, f"two reports interleaved: a second '{HEADER}' header on line {i + 1}, inside "
                                     f"the table that began on line {start}; a log collector mixed the lines of two "
                                     "runs (split them by pod or process before parsing)")
        i += 1
        if not line or line.startswith("-"):
            continue  # section rules like ----Time to First Token----
        row = ROW.match(line)
        if not row:
            continue
        label, raw = row["label"].strip(), row["value"].strip()
        key = re.sub(r"\s+", " ", label.lower())
        if raw == "":
            sub = _sub_rows(lines, i)
            if not sub:  # a label cut off before its value, not a section heading
                raise ParseError(source, f"truncated: the table stops at '{label}:' with no value (expected a number)")
            record["extra"][snake(label)] = {snake(k): number(v) for k, v in sub}
            labels.add(key)
            i += len(sub)
            continue
        labels.add(key)
        last = label
        lat = LATENCY.match(key)
        if lat:
            column = _stat_column(lat["stat"], lat["metric"])
            value = number(raw)
            value = None if value is None else value * TO_MS[lat["unit"]]
            if column:
                record[column] = value
            else:
                record["extra"][f"{lat['stat']}_{METRIC[lat['metric']]}_ms"] = value
        elif key in LABELS:
            record[LABELS[key]] = number(raw)
        elif key == "backend":
            record["extra"]["backend"] = raw
        elif key == "concurrency":  # sglang: mean in-flight requests, not the configured limit
            record["extra"]["measured_concurrency"] = number(raw)
        else:
            value = number(raw)
            record["extra"][snake(label)] = value if value is not None else raw
    raise ParseError(source, f"truncated: the result table has no closing line (last row: '{last}')")


# ---- JSON: sglang --output-file (JSON lines) and vLLM --save-result --------------------------------------------

JSON_DIRECT = {
    "completed": "completed", "failed": "failed", "duration": "duration_s", "num_prompts": "num_prompts",
    "total_input_tokens": "total_input_tokens", "total_output_tokens": "total_output_tokens",
    "request_throughput": "request_throughput", "input_throughput": "input_throughput",
    "output_throughput": "output_throughput", "total_token_throughput": "total_throughput",
    "total_throughput": "total_throughput", "max_concurrency": "concurrency",
    "random_input_len": "input_len", "random_output_len": "output_len",
}
JSON_LATENCY = re.compile(r"^(?P<stat>mean|median|std|p(?P<p>\d+(?:\.\d+)?))_(?P<metric>ttft|tpot|itl|e2el|e2e_latency)_ms$")
PER_REQUEST = ("input_lens", "output_lens", "ttfts", "itls", "generated_texts", "errors", "start_times", "latencies",
               "queue_times")


def is_sglang_json(obj: dict) -> bool:
    return any(k in obj for k in ("random_input_len", "total_output_tokens_retokenized", "mean_e2e_latency_ms",
                                  "sharegpt_output_len"))


def is_vllm_json(obj: dict) -> bool:
    return "completed" in obj and any(k in obj for k in ("model_id", "date", "num_prompts", "total_token_throughput"))


def record_from_json(obj: dict, tool: str) -> dict:
    record = new_record(tool)
    extra = record["extra"]
    for key, value in obj.items():
        if key in PER_REQUEST:
            continue
        lat = JSON_LATENCY.match(key)
        if key in JSON_DIRECT:
            record[JSON_DIRECT[key]] = number(value)
        elif key == "request_rate":
            record["request_rate"] = number(value)  # Infinity / "inf" -> NULL (unbounded)
            extra["request_rate_reported"] = str(value)
        elif lat and lat["metric"] in ("ttft", "tpot", "itl", "e2el", "e2e_latency"):
            metric = {"e2el": "e2e", "e2e_latency": "e2e"}.get(lat["metric"], lat["metric"])
            if lat["stat"] in ("mean", "median", "p90", "p99"):
                record[f"{metric}_{lat['stat']}_ms"] = number(value)
            else:
                extra[f"{lat['stat']}_{metric}_ms"] = number(value)
        elif key == "concurrency":
            extra["measured_concurrency"] = number(value)  # sglang: mean in-flight, not the configured limit
        elif key.rstrip(":") == "request_goodput":
            extra["request_goodput"] = number(value)
        elif key == "server_info" and isinstance(value, dict):
            extra["server_version"] = value.get("version")
            extra["model_path"] = value.get("model_path")
        elif isinstance(value, (str, int, float, bool)) or value is None:
            extra[key] = value
    _per_request(obj, record)
    _lengths(obj, record)
    if "model_id" in obj:
        extra["model"] = obj["model_id"]
    # vLLM --metadata input_len=... output_len=... (strings) fill the lengths it does not store
    for column in ("input_len", "output_len"):
        if record.get(column) is None and isinstance(obj.get(column), str):
            record[column] = integer(obj[column])
    if record.get("failed") is None and record.get("num_prompts") is not None and record.get("completed") is not None:
        record["failed"] = record["num_prompts"] - record["completed"]
    return record


def _lengths(obj: dict, record: dict) -> None:
    """Lengths only when the dataset was made from them; otherwise the measured means go to extra."""
    dataset = obj.get("dataset_name")
    if dataset is None or dataset in RANDOM_DATASETS:
        return
    record["input_len"] = record["output_len"] = None
    completed = number(obj.get("completed"))
    for total, name in (("total_input_tokens", "mean_input_len"), ("total_output_tokens", "mean_output_len")):
        value = number(obj.get(total))
        if completed and value is not None:
            record["extra"][name] = value / completed


def _per_request(obj: dict, record: dict) -> None:
    """--output-details / detailed results: arrays in seconds. Counts come from them when the
    summary lacks them (sglang never reports failures); the arrays themselves stay in the archive."""
    errors = obj.get("errors")
    if isinstance(errors, list):
        record["extra"]["per_request_errors"] = sum(1 for e in errors if e)
        if record.get("num_prompts") is None:
            record["num_prompts"] = len(errors)
        if record.get("failed") is None:
            record["failed"] = sum(1 for e in errors if e)
    elif isinstance(obj.get("input_lens"), list) and record.get("num_prompts") is None:
        record["num_prompts"] = len(obj["input_lens"])


def from_objects(objects: list, source: str, tool_hint: str | None = None,
                 warnings: list[str] | None = None) -> Parsed:
    records = []
    for n, obj in enumerate(objects, 1):
        if not isinstance(obj, dict):
            raise ParseError(source, f"record {n} is not a JSON object")
        if tool_hint == "sglang-bench-serving" or (tool_hint is None and is_sglang_json(obj)):
            records.append(record_from_json(obj, "sglang-bench-serving"))
        elif tool_hint in ("vllm-bench-serve", "vllm-benchmark-serving") or (tool_hint is None and is_vllm_json(obj)):
            records.append(record_from_json(obj, tool_hint or "vllm-bench-serve"))
        else:
            raise ParseError(source, f"record {n}: expected sglang --output-file or vLLM --save-result keys "
                                     f"(completed, duration, *_ttft_ms), found {sorted(obj)[:8]}")
    if not records:
        raise ParseError(source, "no complete JSON record")
    return Parsed(records[0]["tool"], records, warnings or [])
