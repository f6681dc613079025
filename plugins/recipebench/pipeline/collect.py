"""From a benchmark pod's log to archived raw outputs and a parsed record per point."""

from __future__ import annotations

from recipebench.clients import client
from recipebench.manifests.command_lines import unframe_outputs
from recipebench.parsers import ParseError, parse
from recipebench.pipeline import artifacts


def ingest(recipe_id: str, run_key: str, tool: str, point, log: str, source: str) -> dict:
    """Archive the pod log and every result file it carries, parse the preferred one, keep the parsed
    entry for the warehouse.

    A log that lost part of its files (rotated, cut) raises OutputsIncomplete, and a file that does
    not parse raises ParseError naming its archived address: nothing half-read is kept. A client that
    wrote no result file at all is parsed from its console output.
    """
    prefix = f"raw/{point.id}"
    log_address = artifacts.write_text(recipe_id, run_key, f"{prefix}/{source}.log", log)
    files = unframe_outputs(log)
    addresses = {name: artifacts.write_text(recipe_id, run_key, f"{prefix}/{name}", text)
                 for name, text in files.items()}
    chosen = client(tool).choose(files, point.id)
    text, address = (files[chosen], addresses[chosen]) if chosen else (log, log_address)
    parsed = parse(text, address, client(tool).parser)
    if not parsed.records:
        raise ParseError(address, "no result record")
    warnings = list(parsed.warnings)
    if len(parsed.records) > 1:  # a client appends a record per run: the last is this point's
        warnings.append(f"{len(parsed.records)} records in {address}: the last one is this point's, the others "
                        "are not loaded")
    entry = {"point": point.model_dump(), "record": parsed.records[-1], "artifact": address, "warnings": warnings}
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
