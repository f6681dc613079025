#!/usr/bin/env bash
# Run one recipe through a real Airflow 3 deployment (airflow standalone: scheduler, dag-processor,
# triggerer, api-server) against the simulated cluster, as a 5-point concurrency sweep, and show
# that wait_ready and every benchmark point task are deferred to the real triggerer; prints the
# share of the sweep during which a worker slot was held. Not part of `make test` (it takes a
# couple of minutes and binds ports 8089, 8793, 8794).
# usage: scripts/standalone-smoke.sh [RECIPE]   (after `make test` or `make demo` created .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
recipe=${1:-vllm-a4-deepseek-r1}
work=$(mktemp -d)
. .venv/bin/activate
export AIRFLOW_HOME=$work/home AIRFLOW__CORE__DAGS_FOLDER=$PWD/dags AIRFLOW__CORE__PLUGINS_FOLDER=$PWD/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__API__HOST=127.0.0.1 AIRFLOW__API__PORT=8089
export AIRFLOW__API__BASE_URL=http://127.0.0.1:8089 AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True
export RECIPEBENCH_CLUSTER=$work/kubeconfig RECIPEBENCH_IMAGES=assume-present RECIPEBENCH_SIM_TIME_SCALE=30
export RECIPEBENCH_ARTIFACTS=file://$work/artifacts RECIPEBENCH_WAREHOUSE=duckdb://$work/warehouse.duckdb
export AIRFLOW_CONN_HUGGINGFACE_DEFAULT='{"conn_type": "generic", "password": "sim-placeholder"}'
export AIRFLOW_CONN_NGC_DEFAULT='{"conn_type": "generic", "password": "sim-placeholder"}'
# each in its own process group, so that the whole tree (standalone spawns its components) is stopped
setsid python -m recipebench.sim --kubeconfig "$work/kubeconfig" > "$work/sim.log" 2>&1 &
sim=$!
setsid airflow standalone > "$work/standalone.log" 2>&1 &
af=$!
trap 'kill -TERM -- -$af -$sim 2>/dev/null; sleep 3; kill -KILL -- -$af -$sim 2>/dev/null || true' EXIT
api=http://127.0.0.1:8089/api/v2
for _ in $(seq 90); do curl -sf "$api/dags/$recipe" >/dev/null 2>&1 && break; sleep 2; done
curl -sf -X PATCH "$api/dags/$recipe" -H 'Content-Type: application/json' -d '{"is_paused": false}' >/dev/null
curl -sf -X POST "$api/dags/$recipe/dagRuns" -H 'Content-Type: application/json' \
  -d '{"logical_date": null, "conf": {"concurrency": ["1", "2", "4", "8", "16"]}}' >/dev/null
seen_deferred=no
points_deferred=""
for _ in $(seq 300); do
  states=$(curl -sf "$api/dags/$recipe/dagRuns/~/taskInstances" | python -c \
    "import json,sys; print(' '.join(f\"{t['task_id']}[{t['rendered_map_index'] or t['map_index']}]={t['state']}\" for t in json.load(sys.stdin)['task_instances']))")
  [[ $states == *"wait_ready[-1]=deferred"* ]] && seen_deferred=yes
  for t in $states; do
    [[ $t == benchmark\[*\]=deferred && $points_deferred != *"${t%%=*}"* ]] && points_deferred="$points_deferred ${t%%=*}"
  done
  run_state=$(curl -sf "$api/dags/$recipe/dagRuns" | python -c "import json,sys; print(json.load(sys.stdin)['dag_runs'][0]['state'])")
  [[ $run_state == success || $run_state == failed ]] && break
  sleep 0.5
done
echo "run state: $run_state; wait_ready seen deferred: $seen_deferred"
echo "benchmark point tasks seen deferred:$points_deferred"
# from the run's own stage timestamps: how long the point tasks held a worker slot, of the sweep's span
python - "$RECIPEBENCH_ARTIFACTS" "$recipe" <<'PY'
import json, pathlib, sys
root = pathlib.Path(sys.argv[1].removeprefix("file://")) / sys.argv[2]
ledger = json.loads(next(root.glob("*/ledger.json")).read_text())
points = {k: v for k, v in ledger["stages"].items() if k.startswith("benchmark:")}
span = max(v["end"] for v in points.values()) - min(v["start"] for v in points.values())
busy = sum(v["busy"] for v in points.values())
print(f"sweep of {len(points)} points: {span:.1f} s; worker slot held {busy:.1f} s ({100 * busy / span:.1f}% of the sweep)")
PY
echo "trigger log: $(ls "$AIRFLOW_HOME"/logs/dag_id=$recipe/run_id=*/task_id=wait_ready/*trigger* 2>/dev/null | head -1)"
recipebench results --recipe "$recipe" --last 4
n_deferred=$(wc -w <<< "$points_deferred")
[[ $run_state == success && $seen_deferred == yes && $n_deferred -eq 5 ]]
