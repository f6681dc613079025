"""Rows of the warehouse tables from a run config, its ledger and parsed records (pure functions)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from recipebench.catalog.params import RunConfig
from recipebench.catalog.recipe import BenchmarkPoint
from recipebench.catalog.vocabulary import RunStatus
from recipebench.results import environment, gpu_time, slo, validity
from recipebench.results.schema import METRIC_COLUMNS


def _date(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).date().isoformat()


def cost_per_million(gpu_count: int, gpu_hour_usd: float | None, output_throughput: float | None) -> float | None:
    """USD per million output tokens: what the GPUs held cost per hour over the tokens they produced
    in an hour at the point's measured output throughput."""
    if not gpu_hour_usd or not output_throughput:
        return None
    return gpu_count * gpu_hour_usd / (output_throughput * 3600) * 1e6


def accuracy_failure(accuracy: dict[str, Any] | None) -> str | None:
    """The reason every point of a run is invalid when its accuracy gate failed (None: it passed or
    there was none)."""
    if not accuracy or accuracy.get("passed") is not False:
        return None
    return (f"accuracy {accuracy['score']:.2f} < {accuracy['threshold']:.2f} ({accuracy['task']}, "
            f"{accuracy['questions']} questions)")


def result_row(run: RunConfig, point: BenchmarkPoint, entry: dict[str, Any], simulated: bool,
               gpu_hour_usd: float | None = None, accuracy: dict[str, Any] | None = None) -> dict[str, Any]:
    """One results row from a collected point (pipeline.collect.ingest): the point as configured, its
    median trial's numbers, the trials' spread, derived metrics and the validity verdict (`accuracy`:
    the run's accuracy gate, whose failure makes every point invalid)."""
    recipe = run.recipe
    record, artifact = entry["record"], entry["artifact"]
    trials = entry.get("trials")  # None: a point collected before trials existed (trials unknown)
    warmup = entry.get("warmup") or {}
    row: dict[str, Any] = {k: v for k, v in record.items() if k in METRIC_COLUMNS}
    extra = dict(record.get("extra") or {})
    # the configured point is authoritative; what the file claimed is kept when it differs
    configured = {"input_len": point.input_len, "output_len": point.output_len, "concurrency": point.concurrency,
                  "request_rate": point.request_rate, "num_prompts": point.num_prompts}
    for key, value in configured.items():
        if row.get(key) is not None and row[key] != value:
            extra[f"reported_{key}"] = row[key]
        row[key] = value
    if row.get("failed") is None and row.get("completed") is not None:
        row["failed"] = max(point.num_prompts - row["completed"], 0)
    if row.get("output_throughput") is not None:
        row["output_throughput_per_gpu"] = row["output_throughput"] / recipe.gpu_count
    if row.get("tpot_median_ms"):
        row["tokens_per_s_per_user"] = 1000.0 / row["tpot_median_ms"]
    row |= {"warmup_requests": warmup.get("requests"), "trials": len(trials) if trials else None,
            "median_trial": entry.get("median_trial"), **(entry.get("spread") or {})}
    facts = validity.Facts(planned_trials=recipe.benchmark.repeats, warmup_done=warmup.get("done"),
                           warmup_detail=warmup.get("detail"), achieved_concurrency=validity.achieved_concurrency(record),
                           accuracy_failure=accuracy_failure(accuracy))
    row["valid"], row["invalid_reasons"] = validity.judge(row, recipe.benchmark.lengths, recipe.benchmark.validity,
                                                          facts)
    row |= entry.get("slo") or slo.judge(record, None, recipe.slo)  # an entry collected before SLOs existed
    row["search_step"] = entry.get("search_step")
    row["gpu_hour_usd"] = gpu_hour_usd
    row["cost_per_million_output_tokens"] = cost_per_million(recipe.gpu_count, gpu_hour_usd,
                                                             row.get("output_throughput"))
    row |= {
        "run_id": run.run_key, "point_id": point.id, "recipe": recipe.id, "fingerprint": run.fingerprint,
        "run_date": _date(run.started_at), "accelerator": recipe.accelerator, "framework": recipe.framework,
        "model": recipe.model.name, "simulated": simulated, "tool": record.get("tool") or recipe.benchmark.tool,
        "tool_version": record.get("tool_version"), "endpoint": recipe.benchmark.client.endpoint(recipe),
        "artifact": artifact, "extra": extra,
    }
    return row


# the stages that write the row and judge it; every other stage ends before, the last of them
# (teardown, as a rule) when the run finished
AFTER_ROW = ("load", "check_regressions")
LEDGER_LOST = "artifacts"  # failed_stage of a run whose ledger vanished between its stages


def _status(ledger: dict[str, Any], failed_stage: str | None, skipped: bool) -> RunStatus:
    if skipped:
        return RunStatus.SKIPPED
    if failed_stage:
        return RunStatus.REFUSED if ledger.get("refused") else RunStatus.FAILED
    return RunStatus.SUCCESS


def run_row(recipe_id: str, run_key: str, ledger: dict[str, Any], run: RunConfig | None, now: float,
            base=None) -> dict[str, Any]:
    """The runs row: written for every run, failed ones included (with stage and reason). Its times
    come from the run's own stage timestamps, so a late load (after a warehouse outage) writes the
    same row as a timely one; `now` only stands in when no stage recorded an end."""
    stages = ledger.get("stages", {})
    failed_stage = ledger.get("failed_stage")
    if failed_stage in AFTER_ROW:  # the row is being written and judged now: not its own failure
        failed_stage = None
    points = [v for k, v in stages.items() if k.split(":")[0] == "benchmark"]  # one entry per point
    reason: str | None
    skipped = ledger.get("skipped_run") or {}  # schedule_policy when-changed (bodies.skip_if_unchanged)
    if skipped:
        failed_stage, reason = None, skipped.get("reason")
    elif failed_stage is None and run is not None and "resolve" not in stages:
        failed_stage, reason = LEDGER_LOST, ("the run's ledger was lost after it started (its artifacts location "
                                             "removed or changed?): its stage records are gone")
    elif failed_stage is None and (not points or any(v.get("state") != "success" for v in points)):
        failed_stage, reason = "unknown", "no stage recorded a failure, but the benchmark did not finish (task killed?)"
    else:
        reason = str(ledger.get("reason")) if failed_stage else None
    recipe = run.recipe if run else base
    started = run.started_at if run else min((s["start"] for s in stages.values()), default=now)
    ends = [v["end"] for k, v in stages.items() if k not in AFTER_ROW and "end" in v]
    finished = max(ends, default=now)
    deploy_start = stages.get("deploy", {}).get("start")
    gpu_hours, split = None, None
    if recipe is not None and deploy_start:
        # held from the first apply until teardown ended (or the last stage that ran, if it did not)
        held_until = stages.get("teardown", {}).get("end") or finished
        gpu_hours = recipe.gpu_count * max(held_until - deploy_start, 0.0) / 3600
        split = gpu_time.split(gpu_time.from_ledger(ledger, recipe.gpu_count, not recipe.topology.kind.serves,
                                                    deploy_start, held_until))
    row: dict[str, Any] = {
        "run_id": run_key, "recipe": recipe_id, "run_date": _date(started), "started_at": started,
        "finished_at": finished, "simulated": bool(ledger.get("simulated", False)),
        "status": str(_status(ledger, failed_stage, bool(skipped))),
        "cluster_version": ledger.get("cluster_version"), "skipped_matches": skipped.get("matches"),
        "gpu_hours_saved": skipped.get("gpu_hours_saved"),
        "failed_stage": failed_stage, "reason": reason,
        "stage_seconds": {k: round(v["end"] - v["start"], 3) for k, v in stages.items() if "end" in v},
        "gpu_hours": gpu_hours, "leftover_objects": ledger.get("leftover") or None,
        "cluster": ledger.get("cluster"), "image_digest": ledger.get("image_digest"),
        "client_image": ledger.get("client_image"), "artifacts": ledger.get("artifacts"),
        "environment": ledger.get("environment"), **environment.columns(ledger.get("environment")),
        "gpu_hours_split": split["gpu_hours"] if split else None,
        "gpu_hours_measured": split["gpu_hours"]["measured"] if split else None,
    }
    accuracy = ledger.get("accuracy")
    if accuracy:
        row |= {"accuracy_task": accuracy.get("task"), "accuracy_questions": accuracy.get("questions"),
                "accuracy_score": accuracy.get("score"), "accuracy_threshold": accuracy.get("threshold"),
                "accuracy_passed": accuracy.get("passed")}
    if run:
        row |= {"airflow_run_id": run.airflow_run_id, "fingerprint": run.fingerprint, "trigger": run.trigger,
                "params": run.params}
    if recipe is not None:
        row |= {"accelerator": recipe.accelerator, "machine_type": recipe.acc.machine_type,
                "node_count": recipe.topology.total_nodes, "gpu_count": recipe.gpu_count,
                "framework": recipe.framework, "framework_version": recipe.image.tag, "model": recipe.model.name,
                "precision": recipe.model.precision, "image": ledger.get("image") or recipe.image_ref(),
                "inputs": recipe.determining()}
    return row


def trial_rows(row: dict[str, Any], entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The trials table's rows of one results row: every trial's measured figures, the median marked."""
    out = []
    for t in entry.get("trials") or []:
        figures = {k: v for k, v in t["record"].items() if k in METRIC_COLUMNS}
        out.append({**figures, "run_id": row["run_id"], "point_id": row["point_id"], "trial": t["trial"],
                    "recipe": row["recipe"], "run_date": row["run_date"], "simulated": row["simulated"],
                    "is_median": t["trial"] == row["median_trial"], "artifact": t.get("artifact")})
    return out


def capacity_row(run: RunConfig, found: dict[str, Any] | None, simulated: bool) -> dict[str, Any] | None:
    """The capacity table's row of a run whose search ended (bodies.search's outcome in the ledger)."""
    spec = run.recipe.benchmark.search
    if not found or spec is None:
        return None
    return {"run_id": run.run_key, "recipe": run.recipe.id, "fingerprint": run.fingerprint,
            "run_date": _date(run.started_at), "simulated": simulated, "slo": found["slo"],
            "slo_text": found.get("slo_text"), "load_kind": found["load_kind"], "input_len": spec.input_len,
            "output_len": spec.output_len,
            **{k: found.get(k) for k in ("capacity_load", "capacity_point", "capacity_output_throughput",
                                         "capacity_output_throughput_per_gpu", "failed_load", "failed_reason",
                                         "steps", "converged", "note")}}
