"""How long the GPUs sit idle around the benchmark: from the moment the server is seen serving to
the first client Job, and from the last client Job's completion to the workload's deletion.

Runs one recipe's DAG N times (dag.test, in-process, against the simulated cluster) and reads the
run's own timestamps (ledger: ready_at, point_times, workload_deleted_at). Both spans are real
wall-clock seconds of Airflow's hand-off between tasks and of our code, never scaled by the
simulator's clock. In a deployment the scheduler's loop adds its own latency to each hand-off, and
the job poll interval (15 s, here divided by the simulator's speed) to the second span.
usage: python benchmarks/gpu_idle.py [--runs 5] [--recipe vllm-a4-deepseek-r1]
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))


def measure(runs: int, recipe_id: str) -> dict:
    home = Path(tempfile.mkdtemp(prefix="recipebench-bench-"))
    os.environ.update(AIRFLOW_HOME=str(home / "airflow"), RECIPEBENCH_ARTIFACTS=f"file://{home}/artifacts",
                      RECIPEBENCH_WAREHOUSE=f"duckdb://{home}/warehouse.duckdb",
                      AIRFLOW__LOGGING__LOGGING_LEVEL="ERROR")
    os.environ.pop("RECIPEBENCH_CLUSTER", None)
    from recipebench.cli.runner import environment, run_recipe
    from recipebench.pipeline import artifacts

    before, after = [], []
    with environment():
        for _ in range(runs):
            outcome = run_recipe(recipe_id, {})
            assert outcome["status"] == "success", outcome
            ledger = artifacts.ledger(recipe_id, outcome["run_id"])
            spans = sorted(ledger["point_times"].values())
            before.append(spans[0][0] - ledger["ready_at"])
            after.append(ledger["workload_deleted_at"] - spans[-1][1])
    return {"recipe": recipe_id, "runs": runs, "before_median_s": statistics.median(before),
            "after_median_s": statistics.median(after), "before_max_s": max(before), "after_max_s": max(after)}


def describe(m: dict) -> str:
    return (f"GPU idle, {m['recipe']} ({m['runs']} runs, dag.test): ready -> first client Job median "
            f"{m['before_median_s']:.2f} s (max {m['before_max_s']:.2f}); last Job done -> workload deleted median "
            f"{m['after_median_s']:.2f} s (max {m['after_max_s']:.2f})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--recipe", default="vllm-a4-deepseek-r1")
    parser.add_argument("--json", action="store_true", help="print the measurements as one JSON line")
    args = parser.parse_args()
    m = measure(args.runs, args.recipe)
    print(json.dumps([m]) if args.json else describe(m))
