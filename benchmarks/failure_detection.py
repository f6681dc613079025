"""How soon a broken deployment is diagnosed, with the simulated cluster at real-time speed.

For each scenario, R workloads are applied to one simulated cluster running at 1x (one simulated
second per real second), each with its scenario, and their readiness triggers (the code that runs
in Airflow's triggerer during wait_ready, production poll interval of 20 s) run concurrently.
Latency = from the apply of the workload to the trigger's failed verdict, in real seconds: what
the fault needs to show (the simulator shows each at the time a real kubelet would, e.g. a crash
loop once a container has restarted) plus up to one poll interval.
usage: python benchmarks/failure_detection.py [--reps 3]
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))

SCENARIOS = ("image-pull-failure", "crash-loop", "oom", "unschedulable")
RECIPE = "vllm-a4-deepseek-r1"


async def _verdict(trigger) -> tuple[float, dict]:
    async for event in trigger.run():
        return time.monotonic(), event.payload
    raise RuntimeError("the trigger ended without a verdict")


def measure(reps: int) -> list[dict]:
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp())
    from recipebench.catalog.recipe import load_recipe
    from recipebench.cluster.access import parse_target
    from recipebench.cluster.api import Cluster
    from recipebench.manifests.render import example_run, render_workload
    from recipebench.pipeline.bodies import ready_trigger
    from recipebench.sim import SimCluster

    sim = SimCluster(time_scale=1.0, gpu_nodes={"a4": len(SCENARIOS) * reps}).start()
    try:
        cluster = Cluster(parse_target(sim.kubeconfig))
        recipe = load_recipe(RECIPE)
        started = []
        for rep in range(reps):
            for scenario in SCENARIOS:
                run = example_run(recipe, f"rdetect{rep}{SCENARIOS.index(scenario):02d}")
                os.environ["RECIPEBENCH_SIM_SCENARIO"] = scenario  # the simulator takes it at creation
                cluster.apply(render_workload(run))
                started.append((scenario, time.monotonic(), ready_trigger(run, cluster.target)[0]))
        os.environ.pop("RECIPEBENCH_SIM_SCENARIO")

        async def all_verdicts():
            return await asyncio.gather(*(_verdict(trigger) for _, _, trigger in started))

        verdicts = asyncio.run(all_verdicts())
    finally:
        sim.stop()
    out = []
    for scenario in SCENARIOS:
        latencies, reasons = [], set()
        for (name, t0, _), (t1, payload) in zip(started, verdicts, strict=True):
            if name == scenario:
                assert payload["state"] == "failed", payload
                latencies.append(t1 - t0)
                reasons.add(payload["reason"].split(":")[0])
        out.append({"scenario": scenario, "reps": reps, "median_s": statistics.median(latencies),
                    "min_s": min(latencies), "max_s": max(latencies), "reason": "/".join(sorted(reasons))})
    return out


def describe(m: dict) -> str:
    return (f"diagnosis of {m['scenario']}: median {m['median_s']:.0f} s after the apply (min {m['min_s']:.0f}, "
            f"max {m['max_s']:.0f}, {m['reps']} workloads), reason \"{m['reason']}: ...\"")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the measurements as one JSON line")
    args = parser.parse_args()
    results = measure(args.reps)
    print(json.dumps(results) if args.json else "\n".join(describe(m) for m in results))
