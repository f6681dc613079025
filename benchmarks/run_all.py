"""Every performance figure the README quotes, in one command (about 7 minutes on 2 cores):

    python benchmarks/run_all.py        (or: make bench)

Each benchmark runs in a process of its own (Airflow's settings are per process) and each line
is a median over several runs; the scripts say exactly what they time and run alone too.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import dag_parse_time  # noqa: E402
import failure_detection  # noqa: E402
import gpu_idle  # noqa: E402
import parser_throughput  # noqa: E402
import results_pages  # noqa: E402

PLAN = [
    (dag_parse_time, ["--runs", "5"]),
    (dag_parse_time, ["--runs", "5", "--recipes", "200"]),
    (parser_throughput, ["--requests", "10000", "--rounds", "5"]),
    (failure_detection, ["--reps", "3"]),
    (gpu_idle, ["--runs", "5"]),
    (results_pages, ["--nights", "10", "100", "365", "--rounds", "5"]),
]


def main() -> int:
    started = time.monotonic()
    for module, args in PLAN:
        done = subprocess.run([sys.executable, module.__file__, *args, "--json"], capture_output=True, text=True)
        if done.returncode:
            print(f"{Path(module.__file__).name} {' '.join(args)} failed:\n{done.stderr[-2000:]}", file=sys.stderr)
            return 1
        for m in json.loads(done.stdout.strip().splitlines()[-1]):
            print(module.describe(m), flush=True)
    print(f"(all figures in {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
