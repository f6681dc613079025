"""What a page shows, as rows to download (`?format=csv` or `?format=json` on the same URL): the
overview's recipes, a recipe page's points of its run, the cross-recipe frontier's points. The rows are
built from the page's own values, so a download holds the numbers the page shows, for the same view."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

FORMATS = ("html", "csv", "json")


def overview_rows(page: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for row in page["rows"]:
        latest, ok, cap = row["latest"] or {}, row["last_ok"] or {}, row["capacity"] or {}
        out.append({
            "recipe": row["recipe"], "latest_run": latest.get("run_id"), "latest_started_at": latest.get("started_at"),
            "latest_status": latest.get("status"), "latest_regressed": row["latest_regressed"],
            "failed_stage": latest.get("failed_stage"), "reason": latest.get("reason"),
            "latest_simulated": row["simulated"], "last_success_run": ok.get("run_id"),
            "best_output_throughput_per_gpu": row["best_per_gpu"], "best_simulated": row["best_simulated"],
            "capacity_output_throughput_per_gpu": cap.get("capacity_output_throughput_per_gpu"),
            "capacity_load": cap.get("capacity_load"), "capacity_load_kind": cap.get("load_kind"),
            "capacity_slo": cap.get("slo_text"), "capacity_run": cap.get("run_id"),
            "open_regressions": "; ".join(f"{p['point_id']} {p['metric']} {p['change']:+.1%}" for p in row["regressions"]),
            "skipped_runs": row["skipped_runs"], "gpu_hours_saved": row["gpu_hours_saved"]})
    return out


def recipe_rows(page: dict[str, Any]) -> list[dict[str, Any]]:
    """The points of the run the page shows, with the columns of its points table."""
    run = page["current"] or {}
    columns = [c for c, _, _ in page["metrics"]]
    return [{"recipe": page["recipe"], "run_id": run.get("run_id"), "started_at": run.get("started_at"),
             "simulated": bool(run.get("simulated")), "point_id": p["point_id"], "concurrency": p.get("concurrency"),
             "input_len": p.get("input_len"), "output_len": p.get("output_len"),
             **{c: p.get(c) for c in columns}, "trials": p.get("trials"),
             "spread_output_throughput": p.get("spread_output_throughput"), "slo_met": p.get("slo_met"),
             "valid": p.get("valid"), "verdict": p["verdict"]} for p in page["points"]]


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


def render(rows: list[dict[str, Any]], form: str) -> str:
    """Rows as CSV (a header of every column any row has, in first-seen order) or as a JSON array."""
    if form == "json":
        return json.dumps([{k: _plain(v) for k, v in r.items()} for r in rows], indent=1)
    columns: dict[str, None] = {}
    for r in rows:
        columns.update(dict.fromkeys(r))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: _plain(v) for k, v in r.items()} for r in rows)
    return out.getvalue()
