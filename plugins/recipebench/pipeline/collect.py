"""From a benchmark pod's log to archived raw outputs and a parsed record per point."""

from __future__ import annotations

from typing import Any

from recipebench.clients import client
from recipebench.clients.base import trial_file, trial_files
from recipebench.manifests.command_lines import unframe_outputs, warmup_done
from recipebench.parsers import ParseError, parse
from recipebench.parsers.requests import parse_requests
from recipebench.pipeline import artifacts
from recipebench.results import slo
from recipebench.results import trials as trial_stats


def warmup_outcome(log: str, native: bool, planned: int) -> dict:
    """What the log says of the warm-up: {requests, done, detail}. A client's own option ran inside
    the measured process (its success is the trials'); a pass of its own says how it ended."""
    if native:
        return {"requests": planned, "done": True, "detail": None}
    found = warmup_done(log)
    if found is None:
        return {"requests": planned, "done": False, "detail": "the log does not say the warm-up pass ended"}
    requests, status = found
    return {"requests": requests, "done": status == 0,
            "detail": None if status == 0 else f"the warm-up pass exited {status}"}


def ingest(run, point, log: str, source: str) -> dict:
    """Archive the pod log and every result file it carries, parse each trial's preferred file, keep
    the parsed entry for the warehouse: the median trial's record, every trial, their spread and the
    warm-up.

    A log that lost part of its files (rotated, cut) raises OutputsIncomplete, and a file that does
    not parse raises ParseError naming its archived address: nothing half-read is kept. A trial that
    wrote no result file is parsed from what the client printed in it.
    """
    recipe = run.recipe
    recipe_id, run_key, tool, repeats = recipe.id, run.run_key, recipe.benchmark.tool, recipe.benchmark.repeats
    warmup = recipe.benchmark.warmup_for(point)
    prefix = f"raw/{point.id}"
    log_address = artifacts.write_text(recipe_id, run_key, f"{prefix}/{source}.log", log)
    files = unframe_outputs(log)
    addresses = {name: artifacts.write_text(recipe_id, run_key, f"{prefix}/{name}", text)
                 for name, text in files.items()}
    bench = client(tool)
    trials: list[dict[str, Any]] = []
    for k in range(1, repeats + 1):
        own = trial_files(files, k)
        chosen = bench.choose(own, point.id)
        if chosen is None:
            raise ParseError(log_address, f"trial {k} of {repeats} printed no result file and no output")
        address = addresses[trial_file(k, chosen)]
        parsed = parse(own[chosen], address, bench.parser)
        if not parsed.records:
            raise ParseError(address, "no result record")
        warnings = list(parsed.warnings)
        if len(parsed.records) > 1:  # a client appends a record per run: the last is this trial's
            warnings.append(f"{len(parsed.records)} records in {address}: the last one is this trial's, the others "
                            "are not loaded")
        trials.append({"trial": k, "record": parsed.records[-1], "artifact": address, "warnings": warnings})
    best = trial_stats.median_trial([t["record"] for t in trials])
    median = trials[best]
    requests = _requests(bench, trial_files(files, median["trial"]), point.id,
                         addresses.get(trial_file(median["trial"], (bench.request_file or "").format(point=point.id))))
    entry = {"point": point.model_dump(), "record": median["record"], "artifact": median["artifact"],
             "warnings": [w if repeats == 1 else f"trial {t['trial']}: {w}" for t in trials for w in t["warnings"]],
             "trials": trials, "median_trial": median["trial"],
             "spread": trial_stats.spread([t["record"] for t in trials]),
             "warmup": warmup_outcome(log, bench.warmup_flags(warmup) is not None, warmup),
             "slo": slo.judge(median["record"], requests, recipe.slo)}
    artifacts.save_parsed(recipe_id, run_key, point.id, entry)
    return entry


def _requests(bench, own: dict[str, str], point_id: str, address: str | None) -> list | None:
    """The median trial's per-request records, when its client wrote them (None: it did not, or this
    version wrote its result without them)."""
    name = (bench.request_file or "").format(point=point_id)
    if not name or name not in own:
        return None
    try:
        return parse_requests(own[name], address or name)
    except ParseError:
        if name in bench.result_files:  # the result file itself, written without its detail arrays
            return None
        raise


def log_point(log, point_id: str, entry: dict) -> None:
    """One line per collected point with its headline numbers, then the parser's warnings."""
    r = entry["record"]
    trials = entry.get("trials") or []
    of = f" (median of {len(trials)} trials, output throughput spread {_pct(entry['spread'].get('spread_output_throughput'))})" \
        if len(trials) > 1 else ""
    log.info("point %s: %s completed, %s failed, output %s tok/s, median TTFT %s ms, median TPOT %s ms%s -> %s",
             point_id, r.get("completed"), r.get("failed"), _fmt(r.get("output_throughput")),
             _fmt(r.get("ttft_median_ms")), _fmt(r.get("tpot_median_ms")), of, entry["artifact"])
    judged = entry.get("slo") or {}
    if judged:
        log.info("point %s: SLO %s: %s; %s of the requests within it, goodput %s req/s", point_id,
                 {True: "met", False: "NOT met", None: "unknown"}[judged.get("slo_met")], judged.get("slo_detail"),
                 _pct(judged.get("slo_attainment")), _fmt(judged.get("goodput_request_throughput")))
    for warning in entry.get("warnings") or []:
        log.warning("point %s: %s", point_id, warning)


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.1f}"


def _pct(value) -> str:
    return "-" if value is None else f"{value:.1%}"
