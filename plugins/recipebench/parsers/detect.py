"""Which tool wrote a file (from its content when not told) and the parser for it.

`parse` is the one entry point: raw text in, unified records out, or a ParseError that names the
file and what was expected. It never returns a record it had to guess, and never drops a report
without saying so: a log holding reports of several tools gives a record per report, in order.
"""

from __future__ import annotations

import contextlib
import json
import math
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from recipebench.parsers import llmperf, perf_analyzer, records, serving, trtllm
from recipebench.parsers.common import Parsed, ParseError, clean_lines, lenient_json

TOOLS = ("sglang-bench-serving", "vllm-bench-serve", "vllm-benchmark-serving", "trtllm-bench", "aiperf",
         "genai-perf", "llmperf")


# ---- JSON ------------------------------------------------------------------------------------------

def _cut(rest: str) -> bool:
    """Whether `rest` is the beginning of a JSON value that stops short (a cut file), rather than
    something malformed: brackets and strings left open, none closed that was not opened."""
    depth, in_string, escaped = 0, False, False
    for ch in rest:
        if in_string:
            escaped, in_string = (False, True) if escaped else (ch == "\\", ch != '"')
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth < 0:
                return False
    return depth > 0 or in_string


def _json_array_prefix(text: str, warnings: list[str]) -> list | None:
    """The complete elements of a JSON array that was cut off (llmperf individual responses,
    trtllm-bench --request_json): kept, with a warning saying where the file stops."""
    decoder, items, i = json.JSONDecoder(), [], text.index("[") + 1
    while True:
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        try:
            item, i = decoder.raw_decode(text, i)
        except ValueError:
            break
        items.append(item)
    if not items or not _cut(text[i:]):
        return None
    warnings.append(f"the JSON array is cut off after {len(items)} complete element(s) (line "
                    f"{text.count(chr(10), 0, i) + 1}): they are kept, the rest of the file is missing")
    return items


def _json_lines(text: str, warnings: list[str]) -> list | None:
    """JSON lines; a cut-off last line is dropped with a warning (the complete lines stand)."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    out = []
    for n, line in enumerate(lines, 1):
        try:
            out.append(lenient_json(line))
        except ValueError as exc:
            if out and n == len(lines) and _cut(line):
                warnings.append(f"line {n} is incomplete JSON and was skipped ({getattr(exc, 'msg', exc)}): the file is cut off")
                return out
            return None
    return out or None


def _read_json(text: str, source: str, warnings: list[str]) -> Any:
    """The JSON document, JSON lines or cut-off array the text holds; ParseError naming where it
    breaks when it is none of these."""
    try:
        return lenient_json(text)
    except json.JSONDecodeError as whole:
        found = _json_lines(text, warnings)
        if found is None and text.startswith("["):
            found = _json_array_prefix(text, warnings)
        if found is not None:
            return found
        first = text.splitlines()[0]
        try:  # one object per line, one of them broken: name that line
            lenient_json(first)
            bad = next(n for n, ln in enumerate(text.splitlines(), 1) if ln.strip() and not _valid(ln))
            raise ParseError(source, f"line {bad} is not valid JSON (the lines before it are)") from None
        except json.JSONDecodeError:
            pass
        what = "truncated" if _cut(text) else "corrupt"
        raise ParseError(source, f"{what} JSON: {whole.msg} at line {whole.lineno}, column {whole.colno}") from None


def _valid(line: str) -> bool:
    try:
        lenient_json(line)
        return True
    except ValueError:
        return False


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
            return serving.from_objects([obj], source, serving_hint)
    if isinstance(obj, list) and obj:
        if trtllm.is_request_json(obj):
            return trtllm.parse_request_json(obj, source)
        if llmperf.is_individual(obj):
            return llmperf.parse_individual(obj, source)
        if perf_analyzer.is_profile_records(obj[0]):
            return perf_analyzer.parse_profile_records(obj, source)
        if isinstance(obj[0], dict) and (serving.is_sglang_json(obj[0]) or serving.is_vllm_json(obj[0])):
            return serving.from_objects(obj, source, serving_hint)
    return None


# ---- text reports ----------------------------------------------------------------------------------

# the line each text report starts with, and its parser
REPORTS = (
    ("serving", lambda ln: serving.HEADER in ln, serving.parse_table),
    ("console", lambda ln: "| LLM Metrics" in ln or "| Error Summary" in ln, perf_analyzer.parse_console),
    ("trtllm", lambda ln: trtllm.SECTION.match(ln.strip()) is not None, trtllm.parse_text),
)
# lines that belong to the serving report that follows them (the client's arguments)
SERVING_PREAMBLE = ("Namespace(", "benchmark_args=Namespace(")


def report_regions(lines: list[str]) -> list[tuple[str, int, int]]:
    """(kind, first line, end line) of each run of same-kind reports, in order. A region ends where
    the next kind's begins; a serving report also takes the argument lines printed before it."""
    starts: list[tuple[str, int]] = []
    for i, line in enumerate(lines):
        kind = next((k for k, is_start, _ in REPORTS if is_start(line)), None)
        if kind and (not starts or starts[-1][0] != kind):
            starts.append((kind, i))
    regions: list[list] = []
    for n, (kind, start) in enumerate(starts):
        if kind == "serving":  # move back over its Namespace(...) line, not into the previous report
            floor = starts[n - 1][1] + 1 if n else 0
            start = next((j for j in range(start - 1, floor - 1, -1) if lines[j].strip().startswith(SERVING_PREAMBLE)),
                         start if n else 0)
        regions.append([kind, start, len(lines)])
        if n:
            regions[n - 1][2] = min(regions[n - 1][2], start)
    return [(r[0], r[1], r[2]) for r in regions]


def _parse_text(text: str, source: str) -> Parsed:
    lines = clean_lines(text)
    stripped = "\n".join(lines).strip()
    if stripped.startswith(("Metric,", "Config Name,")):
        return perf_analyzer.parse_csv(stripped, source)
    regions = report_regions(lines)
    if not regions:
        raise ParseError(source, "not a recognised benchmark output (expected a 'Serving Benchmark Result' table, a "
                                 "trtllm-bench report, an AIPerf/GenAI-Perf table/CSV or a tool's JSON)")
    parsers = {kind: parser for kind, _, parser in REPORTS}
    found = [parsers[kind]("\n".join(lines[start:end]), source) for kind, start, end in regions]
    out = Parsed(found[0].tool, [r for p in found for r in p.records], [w for p in found for w in p.warnings])
    tools = list(dict.fromkeys(r["tool"] or p.tool for p in found for r in p.records))
    if len(tools) > 1:
        out.warnings.append(f"the file holds reports of {len(tools)} tools ({', '.join(tools)}): each report is a "
                            f"record of its own, {len(out.records)} in file order")
    return out


def _detect_and_parse(text: str, source: str, tool: str | None) -> Parsed:
    stripped = text.lstrip("\ufeff").strip()
    if not stripped:
        raise ParseError(source, "the file is empty (expected a benchmark output)")
    if stripped[0] in "{[":
        warnings: list[str] = []
        try:
            obj = _read_json(stripped, source, warnings)
        except ParseError:
            if any(is_start(ln) for ln in clean_lines(stripped) for _, is_start, _ in REPORTS):
                return _parse_text(stripped, source)  # a log that happens to start with a JSON line
            raise
        parsed = _dispatch_json(obj, source, tool, warnings)
        if parsed is None:
            raise ParseError(source, "JSON, but not the output of a supported tool (expected sglang/vLLM results, "
                                     "trtllm-bench report_json, AIPerf/GenAI-Perf export or llmperf summary)")
        parsed.warnings[:0] = warnings
        return parsed
    return _parse_text(stripped, source)


def _only(parsed: Parsed, tool: str, source: str) -> Parsed:
    """The records of the tool the caller named; the others are dropped with a warning naming them."""
    kept = [r for r in parsed.records if _same_family(tool, r.get("tool") or parsed.tool)]
    if not kept:
        found = sorted({r.get("tool") or parsed.tool for r in parsed.records})
        raise ParseError(source, f"expected output of {tool}, but the content is {' and '.join(found)}'s")
    dropped = len(parsed.records) - len(kept)
    if dropped:
        others = sorted({str(r.get("tool")) for r in parsed.records if r not in kept})
        parsed.warnings.append(f"{dropped} record(s) of {', '.join(others)} ignored: {tool} was asked for")
    return Parsed(kept[0].get("tool") or parsed.tool, kept, parsed.warnings)


# gzip's magic number (RFC 1952) as text: read as latin-1, or as UTF-8 with its second byte replaced
GZIP_TEXT = ("\x1f\x8b", "\x1f\ufffd")
# JSON literals Python's json reads as floats but that are no measurement; a rate of Infinity is the
# tools' way to say "all at once", which the schema records as NULL on purpose
_UNBOUNDED_KEYS = ("request_rate", "max_concurrency", "rate")
# per-request arrays (sglang --output-details, vLLM --save-detailed; serving.PER_REQUEST): a failed request's
# 0 or NaN there is not a summary figure, and parsers.requests reads each value itself; a million of them
# are not walked


def _non_finite_paths(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, float) and not math.isfinite(value):
        yield path, "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in _UNBOUNDED_KEYS and key not in serving.PER_REQUEST:
                yield from _non_finite_paths(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for item in value:
            yield from _non_finite_paths(item, path)


def non_finite_warnings(text: str) -> list[str]:
    """One warning per measured field a JSON (or JSON-lines) output holds as NaN or Infinity, named by its
    path (`output_token_throughput.avg`): it is left empty, and says so."""
    try:
        objs = [json.loads(text)]
    except ValueError:
        objs = []
        for line in text.splitlines():
            with contextlib.suppress(ValueError):
                objs.append(json.loads(line))
    found = dict.fromkeys(hit for obj in objs for hit in _non_finite_paths(obj))
    return [f"{key} is {literal} in the JSON: no measurement, left empty" for key, literal in found]


def parse(text: str, source: str = "<input>", tool: str | None = None) -> Parsed:
    if tool is not None and tool not in TOOLS:
        raise ParseError(source, f"unknown tool {tool!r}; expected one of {', '.join(TOOLS)}")
    if text.startswith(GZIP_TEXT):
        raise ParseError(source, "gzip-compressed, not text: decompress it first (`recipebench parse` reads a .gz "
                                 "file itself)")
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
    for record in parsed.records:
        record["tool"] = record.get("tool") or parsed.tool
    if tool is not None:
        parsed = _only(parsed, tool, source)
    parsed.warnings += records.finish(parsed.records, source)
    if text.lstrip("\ufeff \n").startswith(("{", "[")) and not all(r.get("completed") == 0 for r in parsed.records):
        parsed.warnings += non_finite_warnings(text)  # (every request failed: said already, and why)
    return parsed


def _same_family(asked: str, found: str) -> bool:
    families = [{"vllm-bench-serve", "vllm-benchmark-serving"}, {"aiperf", "genai-perf"}]
    return asked == found or any(asked in f and found in f for f in families)


MAX_OUTPUT_BYTES = 512 << 20  # the largest real output we know (10k requests' details) is 58 MB


def read_output(path: str, limit: int | None = None) -> str:
    """A benchmark output's text: at most `limit` bytes are read (a huge file, or /dev/zero, is refused
    before it fills the memory); a gzip-compressed file is read decompressed, within the same bound."""
    import gzip
    import os

    limit = limit or int(os.environ.get("RECIPEBENCH_PARSE_MAX_BYTES") or MAX_OUTPUT_BYTES)
    with open(path, "rb") as fh:
        compressed = fh.read(2) == b"\x1f\x8b"  # gzip's magic number (RFC 1952)
        fh.seek(0)
        stream = gzip.GzipFile(fileobj=fh) if compressed else fh
        try:
            data = stream.read(limit + 1)
        except (OSError, EOFError) as exc:  # a cut or corrupt gzip stream
            raise ParseError(path, f"gzip-compressed, but it does not decompress: {exc}") from None
    if len(data) > limit:
        raise ParseError(path, f"more than {limit >> 20} MiB{' once decompressed' if compressed else ''}: "
                               "not a benchmark output this parser reads (RECIPEBENCH_PARSE_MAX_BYTES sets the bound)")
    return data.decode("utf-8", errors="replace")


def parse_file(path: str, tool: str | None = None) -> Parsed:
    return parse(read_output(path), path, tool)
