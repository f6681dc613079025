"""Several recipes on one throughput-interactivity frontier: the same model on H200, B200 and GB200, or
SGLang against vLLM. Each recipe's latest successful run in the view's scope, every measured point of
it (output tokens/s per GPU against tokens/s per user), a colour per recipe."""

from __future__ import annotations

from typing import Any

from recipebench.ui.charts import MAX_SERIES, Series, chart
from recipebench.ui.query import View

COLUMNS = ("recipe", "run_id", "started_at", "simulated", "accelerator", "framework", "model", "precision",
           "gpu_count", "point_id", "concurrency", "input_len", "output_len", "tokens_per_s_per_user",
           "output_throughput_per_gpu", "output_throughput", "valid")
RUN_FIELDS = ("recipe", "run_id", "started_at", "accelerator", "framework", "model", "precision", "gpu_count")


def _label(run: dict) -> str:
    return f"{run['recipe']} ({run.get('accelerator')}, {run.get('framework')}, {run.get('precision')})"


def frontier_page(runs: list[dict], results: list[dict], chosen: list[str], view: View) -> dict[str, Any]:
    """The chart, its points as rows (what the page's CSV and JSON hold), and which recipes were left
    out (no successful run in scope, or past the chart's colours)."""
    by_run: dict[str, list[dict]] = {}
    for r in results:
        by_run.setdefault(r["run_id"], []).append(r)
    series, rows = [], []
    drawn = [run for run in runs if by_run.get(run["run_id"])][:MAX_SERIES]
    for run in drawn:
        measured = sorted((r for r in by_run[run["run_id"]] if r.get("tokens_per_s_per_user")
                           and r.get("output_throughput_per_gpu")), key=lambda r: r["tokens_per_s_per_user"])
        if not measured:
            continue
        series.append(Series(run["recipe"], [(r["tokens_per_s_per_user"], r["output_throughput_per_gpu"])
                                                 for r in measured],
                             hollow=[r.get("valid") is False for r in measured],
                             labels=[f"{_label(run)} concurrency {r.get('concurrency') or 'max'}: "
                                     f"{r['tokens_per_s_per_user']:.3g} tok/s/user, "
                                     f"{r['output_throughput_per_gpu']:.4g} tok/s/GPU" for r in measured]))
        for r in measured:
            # the point's figures, with what its run says of itself (results carry no precision or GPUs)
            rows.append({c: r.get(c) for c in COLUMNS} | {c: run.get(c) for c in RUN_FIELDS}
                        | {"simulated": bool(run.get("simulated"))})
    shown = {run["recipe"] for run in drawn}
    return {"chart": chart("cross-frontier", "Throughput–interactivity frontier, latest successful run per recipe",
                           series, "tokens/s per user (1000 / TPOT p50)", "output tok/s per GPU", width=900,
                           height=420),
            "runs": drawn, "rows": rows, "view": view, "chosen": chosen,
            "missing": [r for r in chosen if r not in shown],
            "any_simulated": any(run.get("simulated") for run in drawn)}
