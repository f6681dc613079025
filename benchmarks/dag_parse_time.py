"""How long the dags folder takes to parse, as the dag-processor does it: in a fresh process.

Each run starts a new interpreter, imports Airflow (not counted: every parse pays it anyway), then
times DagBag(dags/), which imports our package and builds every recipe DAG. With --recipes N the
catalog is N recipe files generated from the real ones (copies under new ids), to see how parse
time grows with the catalog.
usage: python benchmarks/dag_parse_time.py [--runs 7] [--recipes N]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import json, sys, time
from airflow.dag_processing.dagbag import DagBag
sys.path.insert(0, 'plugins')
t0 = time.perf_counter()
bag = DagBag(dag_folder='dags')
elapsed = time.perf_counter() - t0
assert not bag.import_errors, bag.import_errors
print(json.dumps({"seconds": elapsed, "dags": len(bag.dags)}))
"""


def generated_catalog(count: int) -> Path:
    """`count` recipe files, the real ones repeated under new ids."""
    sources = sorted((ROOT / "include" / "recipes").glob("*.yaml"))
    folder = Path(tempfile.mkdtemp(prefix="recipebench-catalog-"))
    for i in range(count):
        source = sources[i % len(sources)]
        (folder / f"{source.stem[:30]}-{i:04d}.yaml").write_text(source.read_text())
    return folder


def measure(runs: int, recipes: int | None = None) -> dict:
    env = dict(os.environ, AIRFLOW_HOME=tempfile.mkdtemp(), AIRFLOW__CORE__LOAD_EXAMPLES="False",
               AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"), AIRFLOW__LOGGING__LOGGING_LEVEL="ERROR")
    env.pop("RECIPEBENCH_RECIPES_DIR", None)
    if recipes:
        env["RECIPEBENCH_RECIPES_DIR"] = str(generated_catalog(recipes))
    samples, dags = [], 0
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                             check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        samples.append(result["seconds"])
        dags = result["dags"]
    return {"dags": dags, "runs": runs, "median_s": statistics.median(samples), "min_s": min(samples),
            "max_s": max(samples)}


def describe(m: dict) -> str:
    return (f"DAG folder parse, {m['label']}: {m['dags']} DAGs, median {m['median_s']:.2f} s over {m['runs']} fresh "
            f"processes (min {m['min_s']:.2f}, max {m['max_s']:.2f})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--recipes", type=int, help="generate a catalog of this many recipes")
    parser.add_argument("--json", action="store_true", help="print the measurements as one JSON line")
    args = parser.parse_args()
    label = f"{args.recipes} generated recipes" if args.recipes else "the catalog"
    m = {"label": label, **measure(args.runs, args.recipes)}
    print(json.dumps([m]) if args.json else describe(m))
