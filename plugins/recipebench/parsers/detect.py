"""Which tool wrote a file (from its content when not told) and the parser for it.

`parse` is the one entry point: raw text in, unified records out, or a ParseError that names the
file and what was expected. It never returns a record it had to guess.
"""

from __future__ import annotations

import json
import traceback
from pathlib import Path
from typing import Any

from recipebench.parsers import llmperf, perf_analyzer, serving, trtllm
from recipebench.parsers.common import Parsed, ParseError, lenient_json

TOOLS = ("sglang-bench-serving", "vllm-bench-serve", "vllm-benchmark-serving", "trtllm-bench", "aiperf",
         "genai-perf", "llmperf")
LATENCY_PREFIXES = ("ttft_", "tpot_", "itl_", "e2e_")
THROUGHPUTS = ("request_throughput", "input_throughput", "output_throughput", "total_throughput")


def _json(text: str) -> Any | None:
    try:
        return lenient_json(text)
    except ValueError:
        return None


def _json_lines(text: str, warnings: list[str]) -> list | None:
    """JSON lines; a cut-off last line is dropped with a warning (the complete lines stand)."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    out = []
    for n, line in enumerate(lines, 1):
        try:
            out.append(lenient_json(line))
        except ValueError as exc:
            if out and n == len(lines):
                warnings.append(f"line {n} is incomplete JSON and was skipped ({exc.msg})")
                return out
            return None
    return out or None


def _dispatch_json(obj: Any, source: str, tool: str | None, warnings: list[str]) -> Parsed | None:
    """By content; a tool the caller names is checked against what was found, not trusted."""
    serving_hint = tool if tool in TOOLS[:3] else None
    if isinstance(obj, dict):
        if "performance" in obj and "engine" in obj:
            return trtllm.parse_report_json(obj, source)
        if perf_analyzer.is_export_json(obj):
            return perf_analyzer.parse_export_json(obj, source)
        if llmperf.is_summary(obj):
            return llmperf.parse_summary(obj, source)
        if serving.is_sglang_json(obj) or serving.is_vllm_json(obj):
            return serving.from_objects([obj], source, serving_hint, warnings)
    if isinstance(obj, list) and obj:
        if trtllm.is_request_json(obj):
            return trtllm.parse_request_json(obj, source)
        if llmperf.is_individual(obj):
            return llmperf.parse_individual(obj, source)
        if perf_analyzer.is_profile_records(obj[0]):
            return perf_analyzer.parse_profile_records(obj, source)
        if isinstance(obj[0], dict) and (serving.is_sglang_json(obj[0]) or serving.is_vllm_json(obj[0])):
            return serving.from_objects(obj, source, serving_hint, warnings)
    return None


def _detect_and_parse(text: str, source: str, tool: str | None) -> Parsed:
    stripped = text.lstrip("\ufeff").strip()
    if not stripped:
        raise ParseError(source, "the file is empty (expected a benchmark output)")
    if stripped[0] in "{[":
        warnings: list[str] = []
        obj = _json(stripped)
        if obj is None:
            obj = _json_lines(stripped, warnings)
        if obj is not None:
            parsed = _dispatch_json(obj, source, tool, warnings)
            if parsed:
                return parsed
        elif stripped[0] == "{" and stripped.count("\n") == 0:
            raise ParseError(source, "truncated or corrupt JSON (expected one complete JSON object)")
    if stripped.startswith(("Metric,", "Config Name,")):
        return perf_analyzer.parse_csv(stripped, source)
    if "Serving Benchmark Result" in stripped:
        return serving.parse_table(stripped, source)
    if "| LLM Metrics" in stripped:
        return perf_analyzer.parse_console(stripped, source)
    if "= PERFORMANCE OVERVIEW" in stripped or "= WORLD + RUNTIME INFORMATION" in stripped:
        return trtllm.parse_text(stripped, source)
    if stripped[0] in "{[":
        raise ParseError(source, "JSON, but not the output of a supported tool (expected sglang/vLLM results, "
                                 "trtllm-bench report_json, AIPerf/GenAI-Perf export or llmperf summary)")
    raise ParseError(source, "not a recognised benchmark output (expected a 'Serving Benchmark Result' table, a "
                             "trtllm-bench report, an AIPerf/GenAI-Perf table/CSV or a tool's JSON)")


def sanitize(parsed: Parsed) -> Parsed:
    """A point where no request succeeded has no latency or throughput; tools print 0 or NaN there."""
    for record in parsed.records:
        if record.get("completed") == 0:
            for key in list(record):
                if key.startswith(LATENCY_PREFIXES) or key in THROUGHPUTS:
                    record[key] = None
            parsed.warnings.append("every request failed: latency and throughput are left empty, not zero")
        if parsed.tool and record.get("tool") in (None, ""):
            record["tool"] = parsed.tool
    return parsed


def parse(text: str, source: str = "<input>", tool: str | None = None) -> Parsed:
    if tool is not None and tool not in TOOLS:
        raise ParseError(source, f"unknown tool {tool!r}; expected one of {', '.join(TOOLS)}")
    try:
        parsed = _detect_and_parse(text, source, tool)
    except ParseError:
        raise
    except (TypeError, AttributeError, KeyError, IndexError, ValueError) as exc:
        # recognised, but a value has a shape no version of the tool writes (a list for a number, a
        # missing field): corrupt, and said so with where the parser stumbled
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        raise ParseError(source, f"recognised, but a value has an unexpected shape ({type(exc).__name__}: {exc}; "
                                 f"at {Path(frame.filename).name}:{frame.lineno})") from exc
    if tool is not None and not _same_family(tool, parsed.tool):
        raise ParseError(source, f"expected output of {tool}, but the content is {parsed.tool}'s")
    return sanitize(parsed)


def _same_family(asked: str, found: str) -> bool:
    families = [{"vllm-bench-serve", "vllm-benchmark-serving"}, {"aiperf", "genai-perf"}]
    return asked == found or any(asked in f and found in f for f in families)


def parse_file(path: str, tool: str | None = None) -> Parsed:
    with open(path, encoding="utf-8", errors="replace") as fh:
        return parse(fh.read(), path, tool)


def to_json(parsed: Parsed) -> str:
    return json.dumps({"tool": parsed.tool, "records": parsed.records, "warnings": parsed.warnings}, indent=2,
                      default=str)
