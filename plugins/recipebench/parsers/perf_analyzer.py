"""AIPerf and GenAI-Perf: JSON exports (both AIPerf schemas), CSV exports and console tables,
and AIPerf's per-request profile_export.jsonl.

Every layout is first turned into one shape, {tag: {"unit", "avg", "p50", ...}}, then mapped
once. Their `inter_token_latency` is per request (latency - ttft) / (osl - 1): our TPOT; their
`inter_chunk_latency` (the gaps between streamed chunks, pooled) is our ITL.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from recipebench.parsers.common import (
    TO_MS,
    TO_S,
    Parsed,
    ParseError,
    clean_lines,
    integer,
    new_record,
    number,
    snake,
    summary_ms,
)

# tag -> (latency column prefix); stats avg/p50/p90/p99
LATENCY_TAGS = {"time_to_first_token": "ttft", "ttft": "ttft", "inter_token_latency": "tpot",
                "inter_chunk_latency": "itl", "request_latency": "e2e"}
SCALAR_TAGS = {
    "request_throughput": "request_throughput",
    # AIPerf's InputTokenThroughputMetric (src/aiperf/metrics/types/input_token_throughput_metric.py)
    "input_token_throughput": "input_throughput",
    "output_token_throughput": "output_throughput",
    "total_token_throughput": "total_throughput",
    "request_count": "completed",
    "error_request_count": "failed",
    "total_isl": "total_input_tokens",
    "total_osl": "total_output_tokens",
}
# console / CSV metric names (lower-case, unit stripped) -> tag
NAME_TAGS = {
    "time to first token": "time_to_first_token", "time to second token": "time_to_second_token",
    "inter token latency": "inter_token_latency", "inter chunk latency": "inter_chunk_latency",
    "request latency": "request_latency", "output token throughput": "output_token_throughput",
    "input token throughput": "input_token_throughput",
    "output token throughput per user": "output_token_throughput_per_user",
    "request throughput": "request_throughput", "request count": "request_count",
    "error request count": "error_request_count", "benchmark duration": "benchmark_duration",
    "total input sequence length": "total_isl", "total output sequence length": "total_osl",
    "total token throughput": "total_token_throughput", "output sequence length": "output_sequence_length",
    "input sequence length": "input_sequence_length",
}
UNIT = re.compile(r"^(?P<name>.*?)\s*\((?P<unit>[^()]*)\)\s*$")


def _tag(name: str) -> tuple[str, str | None]:
    m = UNIT.match(name.strip())
    base, unit = (m["name"], m["unit"]) if m else (name.strip(), None)
    base = re.sub(r"\s+", " ", base.lower())
    return NAME_TAGS.get(base, snake(base)), unit


def from_metrics(metrics: dict[str, dict], tool: str, version: str | None = None,
                 config: dict | None = None, errors: list | None = None) -> dict:
    """The unified record from {tag: {unit, avg, p50, ...}}; units converted to ms / s."""
    record = new_record(tool, tool_version=version)
    extra = record["extra"]
    for tag, m in metrics.items():
        if not isinstance(m, dict):
            continue
        unit = str(m.get("unit") or "").strip()
        if tag in LATENCY_TAGS:
            factor = TO_MS.get(unit.lower(), None) if unit else 1.0
            if factor is None:
                raise ValueError(f"metric {tag}: unexpected unit {unit!r} for a latency")
            col = LATENCY_TAGS[tag]
            for stat, key in (("mean", "avg"), ("median", "p50"), ("p90", "p90"), ("p99", "p99")):
                v = number(m.get(key))
                record[f"{col}_{stat}_ms"] = None if v is None else v * factor
        elif tag in SCALAR_TAGS:
            v = number(m.get("avg"))
            col = SCALAR_TAGS[tag]
            record[col] = int(round(v)) if v is not None and col in ("completed", "failed", "total_input_tokens",
                                                                      "total_output_tokens") else v
        elif tag == "benchmark_duration":
            v = number(m.get("avg"))
            factor = TO_S.get(unit.lower(), 1.0) if unit else 1.0
            record["duration_s"] = None if v is None else v * factor
        else:
            extra[tag] = {k: v for k, v in m.items() if k not in ("tag", "header") and v is not None}
    if errors:
        extra["errors"] = errors
        if record.get("failed") is None:
            record["failed"] = sum(int(e.get("count", 0)) for e in errors)
    if record.get("failed") is None and record.get("completed") is not None and errors is not None:
        record["failed"] = 0
    if config:
        _from_config(record, config)
    if record.get("completed") is not None and record.get("failed") is not None and record.get("num_prompts") is None:
        record["num_prompts"] = record["completed"] + record["failed"]
    return record


def _dig(d: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(d, dict):
            return None
        d = d.get(p)
    return d


def _phases(cfg: dict) -> dict:
    """The config's load phases by name: newer AIPerf states the load of each phase (warmup, profiling)
    under input_config.phases (its sweep paths read `phases.profiling.concurrency`: docs/reference/
    json-export-schema.md, run_info.variation_values), as a mapping or as a list of named phases."""
    phases = cfg.get("phases")
    if isinstance(phases, list):
        return {str(ph.get("name") or ph.get("type") or ph.get("phase_type") or "").lower(): ph
                for ph in phases if isinstance(ph, dict)}
    return phases if isinstance(phases, dict) else {}


def _from_config(record: dict, cfg: dict) -> None:
    """input_config of AIPerf (endpoint/input/loadgen, or load phases) or GenAI-Perf (flat)."""
    cfg = {**cfg, "phases": _phases(cfg)}
    first = lambda *paths: next((v for v in (_dig(cfg, *p) for p in paths) if v is not None), None)  # noqa: E731
    record["concurrency"] = integer(first(("loadgen", "concurrency"), ("phases", "profiling", "concurrency"),
                                          ("concurrency",)))
    record["request_rate"] = number(first(("loadgen", "request_rate"), ("phases", "profiling", "request_rate"),
                                          ("request_rate",)))
    # a request count of 0 means "not set: the measurement interval decides" (GenAI-Perf's and AIPerf's
    # default); the requests counted then say how many were sent
    record["num_prompts"] = integer(first(("loadgen", "request_count"), ("phases", "profiling", "request_count"),
                                          ("request_count",), ("num_prompts",))) or None
    record["input_len"] = integer(first(("input", "prompt", "input_tokens", "mean"), ("synthetic_input_tokens_mean",)))
    record["output_len"] = integer(first(("input", "prompt", "output_tokens", "mean"), ("output_tokens_mean",)))
    models = first(("endpoint", "model_names"), ("models", "model_names"), ("model_names",), ("model",))
    if models:
        record["extra"]["model"] = models[0] if isinstance(models, list) else models


def is_export_json(obj: Any) -> bool:
    if not isinstance(obj, dict):
        return False
    if isinstance(obj.get("records"), dict) and "input_config" in obj:
        return True
    if "aiperf_version" in obj and (obj.get("error_summary") or isinstance(obj.get("error_request_count"), dict)):
        return True  # a run in which every request failed: only the error count and summary are exported
    return any(isinstance(obj.get(k), dict) and "avg" in obj[k] for k in ("request_throughput", "request_latency",
                                                                           "time_to_first_token"))


def parse_export_json(obj: dict, source: str) -> Parsed:
    aiperf = "aiperf_version" in obj or "records" in obj or "error_summary" in obj
    tool = "aiperf" if aiperf else "genai-perf"
    metrics = obj["records"] if isinstance(obj.get("records"), dict) else {
        k: v for k, v in obj.items() if isinstance(v, dict) and "unit" in v}
    errors = [{"code": _dig(e, "error_details", "code"), "type": _dig(e, "error_details", "type"),
               "message": _dig(e, "error_details", "message"), "count": e.get("count", 0)}
              for e in obj.get("error_summary") or []] if aiperf else None
    try:
        record = from_metrics(metrics, tool, obj.get("aiperf_version"), obj.get("input_config"), errors)
    except ValueError as exc:
        raise ParseError(source, str(exc)) from None
    if record.get("completed") is None and record.get("failed") and _required(metrics) == ("error_request_count",) \
            or (record.get("completed") is None and errors and not metrics):
        # every request failed: AIPerf exports no request_count then, only the error count and summary
        record["completed"], record["num_prompts"] = 0, record["failed"]
    if obj.get("was_cancelled"):
        record["extra"]["was_cancelled"] = True
    for key in ("schema_version", "start_time", "end_time", "benchmark_id"):
        if obj.get(key) is not None:
            record["extra"][key] = obj[key]
    return Parsed(tool, [record])


def parse_csv(text: str, source: str) -> Parsed:
    try:
        rows = list(csv.reader(io.StringIO(text.replace("\r\n", "\n"))))
    except csv.Error as exc:
        raise ParseError(source, f"not a well-formed CSV: {exc}") from None
    if not rows or not rows[0] or rows[0][0] not in ("Metric", "Config Name"):
        raise ParseError(source, "expected an AIPerf/GenAI-Perf CSV export (first cell 'Metric' or 'Config Name')")
    if rows[0][0] == "Config Name":
        return _parse_analyze_csv(rows, source)
    header = [h.strip().lower() for h in rows[0]]
    # GenAI-Perf orders percentiles descending (p99 first) and formats numbers with thousands separators
    tool = "genai-perf" if header[:5] == ["metric", "avg", "min", "max", "p99"] else "aiperf"
    metrics: dict[str, dict] = {}
    section_header = header
    warnings: list[str] = []
    for n, row in enumerate(rows[1:], 2):
        if not row or not any(c.strip() for c in row):
            continue
        if row[:2] == ["Endpoint", "GPU_Index"]:  # the GPUs' table closes the export; none of it is ours
            warnings.append(_telemetry_warning(rows[n:]))
            break
        if row[0] == "Metric":
            section_header = [h.strip().lower() for h in row]
            continue
        if len(row) < 2:
            raise ParseError(source, f"CSV row {n} ({row[0][:40]!r}) has no value: the export is cut short or corrupt")
        tag, unit = _tag(row[0])
        if section_header[:2] == ["metric", "value"]:
            metrics[tag] = {"unit": unit, "avg": row[1]}
        else:
            metrics[tag] = {"unit": unit, **dict(zip(section_header[1:], row[1:], strict=False))}
    if not metrics:
        raise ParseError(source, "the CSV has a header but no metric rows")
    missing = [NAMES[t] for t in _required(metrics, tool) if t not in metrics]
    if missing:
        raise ParseError(source, f"the CSV lacks {', '.join(missing)}: it is cut short (the tools sort the rows by "
                                 "name, so a cut file keeps some latencies and loses the counts and throughput)")
    if "request_count" not in metrics and "error_request_count" not in metrics:
        warnings.append("no Request Count row (GenAI-Perf's CSV before it had one): the requests completed are not stated")
    try:
        return Parsed(tool, [from_metrics(metrics, tool)], warnings)
    except ValueError as exc:
        raise ParseError(source, str(exc)) from None


def _telemetry_warning(rows: list[list[str]]) -> str:
    """AIPerf's MetricsCsvExporter._write_telemetry_section: Endpoint,GPU_Index,GPU_Name,GPU_UUID,Metric,...
    one row per GPU and metric, after the benchmark's sections."""
    body = [r for r in rows if len(r) > 3 and any(c.strip() for c in r)]
    gpus = {(r[0], r[3]) for r in body}
    return (f"the CSV's GPU telemetry section ({len(gpus)} GPU{'s' if len(gpus) != 1 else ''}, "
            f"{len(body)} rows) is not read: it describes the GPUs, not the benchmark")


NAMES = {"request_latency": "Request Latency", "request_count": "Request Count",
         "request_throughput": "Request Throughput", "error_request_count": "Error Request Count"}


def _required(metrics: dict, tool: str = "aiperf") -> tuple[str, ...]:
    """The rows every complete export has: the request latencies, count and throughput, or, when no
    request succeeded, the error count. GenAI-Perf's CSV had no Request Count row before 2025's layouts
    (its LLM metrics were latencies, lengths and throughputs), so it is not required of it."""
    if "error_request_count" in metrics and "request_count" not in metrics and "request_latency" not in metrics:
        return ("error_request_count",)
    if tool == "genai-perf":
        return ("request_latency", "request_throughput")
    return ("request_latency", "request_count", "request_throughput")


def _parse_analyze_csv(rows: list[list[str]], source: str) -> Parsed:
    """`genai-perf analyze` summary: one row per config (p99 latencies, average throughput)."""
    header = rows[0]
    records = []
    for row in rows[1:]:
        if not row or row[0] == "Config Name":
            break  # the GPU telemetry section follows a blank line
        cells = dict(zip(header, row, strict=False))
        record = new_record("genai-perf", concurrency=integer(cells.get("Concurrency")),
                            input_len=integer(cells.get("ISL")))
        record |= {"ttft_p99_ms": number(cells.get("p99 Time To First Token (ms)")),
                   "tpot_p99_ms": number(cells.get("p99 Inter Token Latency (ms)")),
                   "e2e_p99_ms": number(cells.get("p99 Request Latency (ms)")),
                   "output_throughput": number(cells.get("Avg. Output Token Throughput (tokens/sec)")),
                   "request_throughput": number(cells.get("Request Throughput (requests/sec)"))}
        record["extra"] = {"config_name": cells.get("Config Name"),
                           "num_dataset_entries": integer(cells.get("Num Dataset Entries")),
                           "p99_output_sequence_length": number(cells.get("p99 Output Sequence Length (tokens)"))}
        records.append(record)
    if not records:
        raise ParseError(source, "the analyze CSV has no config rows")
    return Parsed("genai-perf", records)


# a table row: from its first border to its last; whatever a log collector appended after the last
# border (a timestamp, a color reset) is not part of the row
BOX_ROW = re.compile(r"^\s*[│┃](?P<cells>.*)[│┃]")
TITLE = re.compile(r"NVIDIA (?:AIPerf|GenAI-Perf) \| (?P<title>[^│┃]+?)\s*$")


def parse_console(text: str, source: str) -> Parsed:
    """The rich tables printed by both tools; names may wrap onto a continuation row."""
    lines = clean_lines(text)
    tool = "aiperf" if any("NVIDIA AIPerf" in ln for ln in lines) else "genai-perf"
    if not any("| LLM Metrics" in ln for ln in lines):
        raise ParseError(source, "expected an 'NVIDIA AIPerf | LLM Metrics' or 'NVIDIA GenAI-Perf | LLM Metrics' table")
    metrics: dict[str, dict] = {}
    # AIPerf prints its error table only when requests failed (ai-dynamo/aiperf src/aiperf/exporters/
    # console_error_exporter.py, ConsoleErrorExporter.export returns early without an error_summary), and
    # a pasted console may lack it: without the table the failures are not stated (None), never 0
    errors: list[dict] | None = None
    table: str | None = None
    header: list[str] = []
    warnings: list[str] = []
    pending = None
    for line in lines:
        if "| LLM Metrics" in line:
            table, header = "metrics", []
            continue
        if "| Error Summary" in line:
            table, header = "errors", []
            errors = [] if tool == "aiperf" else None
            continue
        title = TITLE.search(line)
        if title:  # another of the tools' tables (embeddings, GPU telemetry, ...): said, not dropped silently
            table, header = "other", []
            warnings.append(f"the console's '{title['title']}' table is not read (its LLM Metrics are)")
            continue
        m = BOX_ROW.match(line)
        if not m or table in (None, "other"):
            if line.startswith(("└", "╰")):
                table = None
            continue
        cells = [c.strip() for c in re.split(r"[│┃]", m["cells"])]
        if not header:
            header = [c.lower() for c in cells]
            continue
        if table == "errors":
            row = dict(zip(header, cells, strict=False))
            if errors is not None:  # GenAI-Perf prints no error table
                errors.append({"code": integer(row.get("code")), "type": row.get("type"),
                               "message": row.get("message") or "", "count": integer(row.get("count")) or 0})
            continue
        if all(c == "" for c in cells[1:]) and pending:  # wrapped metric name
            name = f"{pending[0]} {cells[0]}"
            metrics.pop(pending[1])
            tag, unit = _tag(name)
            metrics[tag] = {"unit": unit, **pending[2]}
            pending = (name, tag, pending[2])
            continue
        tag, unit = _tag(cells[0])
        values = {h: c for h, c in zip(header[1:], cells[1:], strict=False)}
        metrics[tag] = {"unit": unit, **values}
        pending = (cells[0], tag, values)
    if not metrics and errors:
        record = new_record(tool, completed=0, failed=sum(e["count"] for e in errors))
        record["num_prompts"] = record["failed"]
        record["extra"]["errors"] = errors
        return Parsed(tool, [record], warnings)
    if not metrics:
        raise ParseError(source, "the LLM Metrics table has no rows")
    try:
        return Parsed(tool, [from_metrics(metrics, tool, errors=errors)], warnings)
    except ValueError as exc:
        raise ParseError(source, str(exc)) from None


def is_profile_records(first: Any) -> bool:
    return isinstance(first, dict) and "metadata" in first and "metrics" in first


def parse_profile_records(objs: list[dict], source: str) -> Parsed:
    """AIPerf per-request records: counts, errors, and latencies over the successful requests."""
    ok = [o for o in objs if not o.get("error")]
    failed = [o for o in objs if o.get("error")]
    values: dict[str, list[float]] = {"ttft": [], "tpot": [], "e2e": []}
    for o in ok:
        for tag, col in (("time_to_first_token", "ttft"), ("ttft", "ttft"), ("inter_token_latency", "tpot"),
                         ("request_latency", "e2e")):
            metric = (o.get("metrics") or {}).get(tag)
            value = number(metric.get("value")) if isinstance(metric, dict) else None
            if isinstance(metric, dict) and value is not None:
                values[col].append(value * TO_MS.get((metric.get("unit") or "ms").lower(), 1.0))
    record = new_record("aiperf", completed=len(ok), failed=len(failed), num_prompts=len(objs))
    for col, vals in values.items():
        record |= summary_ms(vals, col)
    codes: dict[str, int] = {}
    for o in failed:
        key = f"{o['error'].get('code')} {o['error'].get('type')}"
        codes[key] = codes.get(key, 0) + 1
    record["extra"] = {"error_counts": codes, "computed_from": "per-request records"}
    return Parsed("aiperf", [record])
