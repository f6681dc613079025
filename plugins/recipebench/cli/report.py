"""What `demo` says on the terminal: a line per recipe and per stage with its timing, and a summary table
at the end, while Airflow's own logging, every task's output and the runs' JSON outcomes go to a log
file it names (1,500 lines of INFO are for reading when something failed, not for every run)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def quiet(log: Path) -> Iterator[IO[str]]:
    """File descriptors 1 and 2 (Python's streams, Airflow's logging, subprocesses) appended to `log`;
    yields the terminal as a text stream. Restored on the way out, whatever happened."""
    log.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(1), "w", buffering=1)
    with open(log, "a") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield terminal
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in zip((1, 2), saved, strict=True):
                os.dup2(copy, fd)
                os.close(copy)
            terminal.close()


def stage_seconds(ledger_stages: dict[str, Any]) -> list[tuple[str, float, str]]:
    """(stage, seconds, state) in the order the stages started; a sweep's point tasks as one line."""
    timed = sorted(((name, s) for name, s in ledger_stages.items() if s.get("start") and s.get("end")),
                   key=lambda item: item[1]["start"])
    out: list[tuple[str, float, str]] = []
    points = [s for name, s in timed if name.startswith("benchmark:")]
    for name, s in timed:
        if name.startswith("benchmark:"):
            if s is points[0]:
                failed = [p for p in points if p.get("state") not in (None, "success")]
                out.append((f"benchmark ({len(points)} point{'s' * (len(points) != 1)})",
                            max(p["end"] for p in points) - min(p["start"] for p in points),
                            "failed" if failed else "success"))
            continue
        out.append((name, s["end"] - s["start"], s.get("state") or ""))
    return out


def recipe_lines(n: int, total: int, outcome: dict[str, Any], seconds: float) -> list[str]:
    """The recipe's line (its outcome and wall time) and one line per stage."""
    said = outcome["status"] + (f" at {outcome['failed_stage']}: {outcome['reason']}" if outcome.get("failed_stage")
                                else (f": {outcome['reason']}" if outcome.get("reason") else ""))
    lines = [f"[{n}/{total}] {outcome['recipe']}: {said} ({seconds:.0f} s)"]
    lines += [f"      {name:<28} {secs:7.1f} s  {state}" for name, secs, state in outcome.get("stages") or []]
    if outcome.get("leftover_objects"):
        lines.append(f"      LEFT IN THE CLUSTER: {', '.join(outcome['leftover_objects'])}")
    return lines


def summary(outcomes: list[dict[str, Any]], best: dict[str, tuple[int, float | None]]) -> list[str]:
    """The table at the end: per recipe its status, its result rows and best output tok/s/GPU (`best`:
    per run key, (rows, best)), and where it failed."""
    header = ("recipe", "status", "results", "best tok/s/GPU", "failed stage: reason")
    rows = [header]
    for o in outcomes:
        count, top = best.get(o.get("run_id") or "", (o.get("result_rows") or 0, None))
        failure = f"{o['failed_stage']}: {o['reason']}" if o.get("failed_stage") else ""
        rows.append((o["recipe"], o["status"], str(count), f"{top:,.1f}" if top else "-", failure[:80]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    return ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1] for r in rows]
