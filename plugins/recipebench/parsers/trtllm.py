"""trtllm-bench: the text report (v0.12's STATISTICS, v0.16's throughput and latency reports, v0.17 and
current layouts, streaming breakdowns), --report_json,
and --request_json (per-request timestamps in nanoseconds)."""

from __future__ import annotations

import re

from recipebench.parsers.common import (
    Parsed,
    ParseError,
    clean_lines,
    integer,
    new_record,
    number,
    scaled,
    snake,
    summary_ms,
)

TOOL = "trtllm-bench"
SECTION = re.compile(r"^= (?P<title>[A-Za-z +\-()]+?)\s*$")
RULE = re.compile(r"^={10,}$")  # the report's rules: around each section title, and one closing the report
BREAKDOWN = re.compile(r"^\[(?P<metric>Latency|TTFT|TPOT|GTPS)\]\s*(?P<stat>MINIMUM|MAXIMUM|AVERAGE|P\d+)\s*:\s*(?P<value>\S+)")
ROW = re.compile(r"^(?P<label>[^:\[][^:]*?):\s+(?P<value>\S.*)$")
BREAKDOWN_COLUMN = {"Latency": "e2e", "TTFT": "ttft", "TPOT": "tpot"}
STAT = {"AVERAGE": "mean", "P50": "median", "P90": "p90", "P99": "p99"}
# label (lower-case, unit kept) -> column
LABELS = {
    "number of requests": "completed",
    "request throughput (req/sec)": "request_throughput",
    "total output throughput (tokens/sec)": "output_throughput",
    "token throughput (tokens/sec)": "output_throughput",  # v0.17: output tokens only (= requests/s x OSL)
    "total token throughput (tokens/sec)": "total_throughput",
    "average request latency (ms)": "e2e_mean_ms",
    "average time-to-first-token [ttft] (ms)": "ttft_mean_ms",
    "average time-per-output-token [tpot] (ms)": "tpot_mean_ms",
    # 0.16's labels, without the brackets (tensorrt_llm/bench/dataclasses/reporting.py of 0.16:
    # report_statistics' STREAMING STATISTICS and report_latency_statistics' LATENCY OVERVIEW). Its
    # "inter-token latency" is per request (last token - first token) / (tokens - 1), which later
    # releases renamed TPOT (StatsKeeper.generate_statistics_summary feeds the same values to
    # itl_percentiles then, tpot_percentiles now): TPOT in this schema
    "average time-to-first-token (ms)": "ttft_mean_ms",
    "average inter-token latency (ms)": "tpot_mean_ms",
}
# labels whose meaning depends on the report they are in. 0.16's latency report
# (report_latency_statistics: GENERAL / THROUGHPUT / LATENCY OVERVIEW) prints as "Total Token
# Throughput" BenchmarkStatistics.token_throughput_ns, which is total_output_tokens / total_latency_ns:
# output tokens only
SECTION_LABELS = {"THROUGHPUT OVERVIEW": {"total token throughput (tokens/sec)": "output_throughput"}}
# sections of bare MIN/MAX/AVG/Pnn rows: each row kept in extra under its section's name, so two
# breakdowns do not collide. 0.16's report_latency_statistics prints the p50 on its "P90" rows (its
# f-strings read .p50 under the P90 label), so those rows are stored as what they hold
BREAKDOWNS = {"GENERATION LATENCY BREAKDOWN": "generation_latency", "ACCEPTANCE BREAKDOWN": "acceptance"}
MISLABELLED = {"p90": "p50"}


def parse_text(text: str, source: str) -> Parsed:
    records: list[dict] = []
    record = new_record(TOOL)
    seen: set[str] = set()
    section = found = None
    lines = [ln.strip() for ln in clean_lines(text)]
    closing = _closing_rules(lines)
    for i, line in enumerate(lines):
        if RULE.match(line):
            section = None if i in closing else section
            continue
        m = SECTION.match(line)
        if m:
            title = m["title"].upper()
            if title in seen:  # a second report in the same log
                records.append(_finish(record, source))
                record, seen = new_record(TOOL), set()
            seen.add(title)
            section = found = title
            continue
        if section is None:
            continue
        b = BREAKDOWN.match(line)
        if b:
            metric, stat = BREAKDOWN_COLUMN.get(b["metric"]), STAT.get(b["stat"])
            if metric and stat:
                record[f"{metric}_{stat}_ms"] = number(b["value"])
            else:
                record["extra"][f"{b['metric'].lower()}_{b['stat'].lower()}"] = number(b["value"])
            continue
        r = ROW.match(line)
        if not r or section == "DATASET DETAILS" and r["label"] in ("MIN", "MAX", "AVG"):
            continue
        _row(record, section, r["label"].strip(), r["value"].strip())
    if found is None:
        raise ParseError(source, "expected a trtllm-bench report (sections like '= PERFORMANCE OVERVIEW')")
    records.append(_finish(record, source))
    return Parsed(TOOL, records)


def _row(record: dict, section: str, label: str, raw: str) -> None:
    """One `label: value` row of the report, into its column or extra."""
    key = re.sub(r"\s+", " ", label.lower())
    column = SECTION_LABELS.get(section, {}).get(key) or LABELS.get(key)
    if section in BREAKDOWNS:
        stat, _, unit = key.partition(" ")
        name = f"{BREAKDOWNS[section]}_{MISLABELLED.get(stat, stat)}" + ("_ms" if unit == "(ms)" else "")
        record["extra"][name] = number(raw)
    elif column:
        record[column] = integer(raw) if column == "completed" else number(raw)
    elif key in ("total latency (ms)", "total latency (seconds)"):  # the second: 0.12's "= STATISTICS"
        value = number(raw)
        record["duration_s"] = None if value is None else value / (1000 if key.endswith("(ms)") else 1)
    elif key in ("tensorrt llm version", "tensorrt-llm version"):
        record["tool_version"] = raw
    elif key == "number of concurrent requests":
        record["extra"]["measured_concurrency"] = number(raw)
    elif key.startswith("per user output throughput"):
        record["extra"]["per_user_output_throughput_with_ctx"] = number(raw)  # includes TTFT: not interactivity
    else:
        value = number(raw)
        record["extra"][snake(label)] = value if value is not None else raw


def _closing_rules(lines: list[str]) -> set[int]:
    """The rules next to no section title: each closes what came before. trtllm-bench prints a rule on
    both sides of every section title, and one after the last section of v0.17's report (the fixture
    v0.17.0-throughput-trt-engine-llama3.1-8b-fp8-full-log.txt) and of the current report's DECODING
    STATISTICS (tensorrt_llm/bench/dataclasses/reporting.py, ReportUtility.report_statistics). What follows
    one (log lines, YAML, a command) is not the report's, until the next section title."""
    texts = [(i, ln) for i, ln in enumerate(lines) if ln]
    out = set()
    for n, (i, line) in enumerate(texts):
        around = [texts[n - 1][1] if n else "", texts[n + 1][1] if n + 1 < len(texts) else ""]
        if RULE.match(line) and not any(SECTION.match(t) for t in around):
            out.add(i)
    return out


def _totals(record: dict) -> dict:
    """Token totals from the report's average lengths x requests (trtllm-bench prints averages only), so
    the lengths the run really had can be checked against the plan."""
    extra, n = record["extra"], record.get("completed")
    for kind, keys in (("input", ("avg_input_length", "average_input_length_tokens")),
                       ("output", ("avg_output_length", "average_output_length_tokens"))):
        mean = next((number(extra[k]) for k in keys if number(extra.get(k)) is not None), None)
        if record.get(f"total_{kind}_tokens") is None and mean is not None and n:
            record[f"total_{kind}_tokens"] = round(mean * n)
    return record


def _finish(record: dict, source: str) -> dict:
    if record.get("request_throughput") is None and record.get("output_throughput") is None:
        raise ParseError(source, "truncated: the trtllm-bench report has no PERFORMANCE OVERVIEW numbers")
    _totals(record)
    record["num_prompts"] = record.get("completed")
    record["failed"] = 0 if record.get("completed") is not None else None  # trtllm aborts the run on a failed request
    return record


def parse_report_json(obj: dict, source: str) -> Parsed:
    perf = obj.get("performance")
    if not isinstance(perf, dict):
        raise ParseError(source, "expected trtllm-bench --report_json with a 'performance' object")
    engine, world, req = obj.get("engine") or {}, obj.get("world_info") or {}, obj.get("request_info") or {}
    record = new_record(TOOL, tool_version=engine.get("version"))
    record |= {
        "completed": integer(req.get("num_requests")),
        "num_prompts": integer(req.get("num_requests")),
        "failed": 0 if req.get("num_requests") is not None else None,
        "duration_s": scaled(number(perf.get("total_latency_ms")), 1 / 1000),
        "request_throughput": number(perf.get("request_throughput_req_s")),
        "output_throughput": number(perf.get("system_output_throughput_tok_s")),
        "total_throughput": number(perf.get("system_total_throughput_tok_s")),
        "e2e_mean_ms": number(perf.get("avg_request_latency_ms")),
    }
    for metric, pct in (("e2e", perf.get("request_latency_percentiles_ms")),
                        ("ttft", (obj.get("streaming_metrics") or {}).get("ttft_percentiles")),
                        ("tpot", (obj.get("streaming_metrics") or {}).get("tpot_percentiles"))):
        for key, stat in (("average", "mean"), ("p50", "median"), ("p90", "p90"), ("p99", "p99")):
            if isinstance(pct, dict) and key in pct:
                record[f"{metric}_{stat}_ms"] = number(pct[key])
    record["extra"] = {
        "model": engine.get("model"), "backend": engine.get("backend"), "dtype": engine.get("dtype"),
        "quantization": engine.get("quantization"), "tp_size": world.get("tp_size"), "pp_size": world.get("pp_size"),
        "ep_size": world.get("ep_size"), "max_batch_size": world.get("max_batch_size"),
        "measured_concurrency": number(req.get("avg_num_concurrent_requests")),
        "avg_input_length": number(req.get("avg_input_length")), "avg_output_length": number(req.get("avg_output_length")),
        "per_user_output_throughput_with_ctx": number(perf.get("output_throughput_per_user_tok_s")),
        "per_gpu_output_throughput": number(perf.get("output_throughput_per_gpu_tok_s")),
        "percentile_method": "nearest-rank",
    }
    return Parsed(TOOL, [_totals(record)])


def is_request_json(obj) -> bool:
    return isinstance(obj, list) and bool(obj) and isinstance(obj[0], dict) and "first_token_timestamp" in obj[0]


def parse_request_json(rows: list[dict], source: str) -> Parsed:
    """Per-request data, timestamps in ns: latencies computed from them (ns -> ms)."""
    ok = [r for r in rows if not r.get("error_tokens")]
    for n, r in enumerate(rows):
        if not all(k in r for k in ("start_timestamp", "first_token_timestamp", "end_timestamp")):
            raise ParseError(source, f"request {n}: expected start/first_token/end timestamps (ns)")
    ttft = [(r["first_token_timestamp"] - r["start_timestamp"]) / 1e6 for r in ok]
    e2e = [(r["end_timestamp"] - r["start_timestamp"]) / 1e6 for r in ok]
    tpot = [((r["end_timestamp"] - r["first_token_timestamp"]) / 1e6) / (r.get("num_generated_tokens", r.get("output_tokens", 0)) - 1)
            for r in ok if (r.get("num_generated_tokens") or 0) > 1]
    record = new_record(TOOL, completed=len(ok), failed=len(rows) - len(ok), num_prompts=len(rows))
    if ok:
        start = min(r["start_timestamp"] for r in ok)
        end = max(r["end_timestamp"] for r in ok)
        duration = (end - start) / 1e9
        out = sum(r.get("num_generated_tokens") or r.get("num_total_output_tokens") or 0 for r in ok)
        inp = sum(r.get("num_input_tokens") or 0 for r in ok)
        record |= {"duration_s": duration, "total_output_tokens": out, "total_input_tokens": inp,
                   "request_throughput": len(ok) / duration if duration > 0 else None,
                   "output_throughput": out / duration if duration > 0 else None}
    record |= summary_ms(ttft, "ttft") | summary_ms(e2e, "e2e") | summary_ms(tpot, "tpot")
    record["extra"]["computed_from"] = "per-request timestamps (ns)"
    return Parsed(TOOL, [record])
