"""How long the dags folder takes to parse, as the dag-processor does it: in a fresh process.

Each run starts a new interpreter, imports Airflow (not counted: every parse pays it anyway),
then times DagBag(dags/) which imports our package and builds every recipe DAG.
Prints the median and spread over N runs.   usage: python benchmarks/dag_parse_time.py [N]
"""

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


def main(runs: int) -> None:
    env = dict(os.environ, AIRFLOW_HOME=tempfile.mkdtemp(), AIRFLOW__CORE__LOAD_EXAMPLES="False",
               AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"), AIRFLOW__LOGGING__LOGGING_LEVEL="ERROR")
    samples, dags = [], 0
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        samples.append(result["seconds"])
        dags = result["dags"]
    print(f"dags folder parse: {dags} DAGs, median {statistics.median(samples) * 1000:.0f} ms over {runs} fresh "
          f"processes (min {min(samples) * 1000:.0f} ms, max {max(samples) * 1000:.0f} ms)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
