"""From a benchmark pod's log to archived raw outputs and parsed records (pure, plus archiving)."""

from __future__ import annotations

import re

from recipebench.manifests.command_lines import BEGIN, END
from recipebench.parsers import ParseError, parse
from recipebench.pipeline import artifacts

_BEGIN = re.compile("^" + re.escape(BEGIN).replace(r"\{name\}", "(?P<name>.+)") + "$")

# which saved file to parse per tool, best first; the console log is the fallback
PREFERRED = {
    "sglang-bench-serving": ("result.jsonl",),
    "vllm-benchmark-serving": ("result.json",),
    "vllm-bench-serve": ("result.json",),
    "aiperf": ("profile_export_aiperf.json", "profile_export_aiperf.csv"),
    "trtllm-bench": ("{point}.json", "{point}.txt"),
}


def extract_files(log: str) -> dict[str, str]:
    """The files a pod printed between the output markers; an unterminated one is left out."""
    files: dict[str, str] = {}
    current, lines = None, []
    for line in log.splitlines():
        m = _BEGIN.match(line)
        if m:
            current, lines = m["name"], []
        elif current and line == END.format(name=current):
            files[current] = "\n".join(lines) + "\n"
            current = None
        elif current:
            lines.append(line)
    return files


def choose(tool: str, files: dict[str, str], point_id: str) -> str | None:
    for pattern in PREFERRED.get(tool, ()):
        name = pattern.format(point=point_id)
        if name in files:
            return name
    return None


def ingest(recipe_id: str, run_key: str, tool: str, point, log: str, source: str) -> dict:
    """Archive the pod log and every result file, parse the preferred one, keep the parsed entry.

    A file that does not parse raises ParseError naming its archived address and what was
    expected; nothing is kept for the warehouse then.
    """
    files = extract_files(log)
    prefix = f"raw/{point.id}"
    log_address = artifacts.write_text(recipe_id, run_key, f"{prefix}/{source}.log", log)
    addresses = {name: artifacts.write_text(recipe_id, run_key, f"{prefix}/{name}", text)
                 for name, text in files.items()}
    chosen = choose(tool, files, point.id)
    text, address = (files[chosen], addresses[chosen]) if chosen else (log, log_address)
    parsed = parse(text, address, tool)
    if not parsed.records:
        raise ParseError(address, "no result record")
    entry = {"point": point.model_dump(), "record": parsed.records[-1], "artifact": address,
             "warnings": parsed.warnings}
    artifacts.save_parsed(recipe_id, run_key, point.id, entry)
    return entry


def log_point(log, point_id: str, entry: dict) -> None:
    """One line per collected point with its headline numbers, then the parser's warnings."""
    r = entry["record"]
    log.info("point %s: %s completed, %s failed, output %s tok/s, median TTFT %s ms, median TPOT %s ms -> %s",
             point_id, r.get("completed"), r.get("failed"), _fmt(r.get("output_throughput")),
             _fmt(r.get("ttft_median_ms")), _fmt(r.get("tpot_median_ms")), entry["artifact"])
    for warning in entry.get("warnings") or []:
        log.warning("point %s: %s", point_id, warning)


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.1f}"
