"""`recipebench run` / `demo`: a recipe's DAG run once, in-process (dag.test), against the configured
cluster, or the simulated one when none is configured, and its outcome as one JSON object."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from recipebench.catalog.paths import REPO_ROOT, VAR
from recipebench.cli.report import stage_seconds

# Placeholders for the simulated cluster only: it never pulls a model or an image.
SIM_CONNECTIONS = {
    "AIRFLOW_CONN_HUGGINGFACE_DEFAULT": {"conn_type": "generic", "password": "sim-placeholder-hf-token"},
    "AIRFLOW_CONN_NGC_DEFAULT": {"conn_type": "generic", "password": "sim-placeholder-ngc-key"},
}


def _airflow_env() -> None:
    home = Path(os.environ.setdefault("AIRFLOW_HOME", str(VAR / "airflow")))
    os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO_ROOT / "dags"))
    os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(REPO_ROOT / "plugins"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")
    home.mkdir(parents=True, exist_ok=True)
    migrate_once(home)


def migrate_once(home: Path) -> None:
    """`airflow db migrate` on first use of this AIRFLOW_HOME, under a file lock: two first runs at
    once would otherwise both create the tables and the second stops on a UNIQUE constraint."""
    import fcntl

    marker = home / ".recipebench-migrated"
    with open(home / ".recipebench-migrate.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if marker.exists():
            return
        import signal

        # the child must not inherit a blocked SIGTERM (sigterm_interrupts)
        mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        try:
            done = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        if done.returncode:
            tail = " | ".join(done.stderr.strip().splitlines()[-3:])
            raise RuntimeError(f"airflow db migrate failed in {home} (exit {done.returncode}): {tail}")
        marker.write_text("ok\n")


STOP = threading.Event()  # set once SIGTERM arrived: `demo` runs no further recipe


@contextlib.contextmanager
def sigterm_interrupts():
    """SIGTERM (a `timeout`, a pod being stopped) interrupts the run like Ctrl-C does, so the run
    stops, tears down and prints its outcome. A handler would not last: Airflow's task runner sets
    its own SIGTERM handler at every task and keeps it (task_runner.run, _on_term, which only calls
    the operator's on_kill). So SIGTERM is blocked in every thread and one thread waits for it and
    turns it into SIGINT, whose KeyboardInterrupt the task runner fails the running task with (the
    DAG's teardown then runs) or, between tasks and in an inline trigger, stops dag.test."""
    import signal

    main = threading.main_thread().ident or 0

    def forward():
        signal.sigwait({signal.SIGTERM})
        STOP.set()
        print("recipebench: SIGTERM: stopping the run (teardown follows)", file=sys.stderr)
        # to the main thread itself: a process-wide kill may land in this or another thread, and the
        # main thread, blocked in a socket read that never returns, would not look at the flag until
        # the read ended; a signal to it interrupts the read (EINTR), and Python raises there
        signal.pthread_kill(main, signal.SIGINT)

    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # threads started later inherit it
    threading.Thread(target=forward, name="sigterm", daemon=True).start()
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def ensure_accuracy_data(log) -> None:
    """The simulated cluster's runs have the accuracy gate too: where no data set is staged (a fresh
    machine, no network to its source), the project's generated problems are staged, and it says so."""
    from recipebench.accuracy import generated, gsm8k
    from recipebench.pipeline.artifacts import artifacts_root

    if not (gsm8k.location(artifacts_root()) / "test.jsonl").exists():  # whatever is staged stays
        gsm8k.stage(artifacts_root(), generated.files(questions=gsm8k.TEST_SIZE))
        log(f"no {gsm8k.TASK} data set under {artifacts_root()}: staged the project's generated problems for the "
            "simulated server (`recipebench stage-data gsm8k` stages the real one)")


@contextlib.contextmanager
def scenario(name: str | None):
    """RECIPEBENCH_SIM_SCENARIO for one run (the simulated cluster reads it as it starts); refused for a
    real cluster and for a name the simulator does not know."""
    if not name:
        yield
        return
    if os.environ.get("RECIPEBENCH_CLUSTER"):
        raise SystemExit("recipebench: --scenario chooses what the simulated cluster does; RECIPEBENCH_CLUSTER names "
                         "a real one")
    from recipebench.sim.kubelet import parse_scenario

    try:
        parse_scenario(name)
    except ValueError as exc:
        raise SystemExit(f"recipebench: --scenario: {exc}") from None
    saved = os.environ.get("RECIPEBENCH_SIM_SCENARIO")
    os.environ["RECIPEBENCH_SIM_SCENARIO"] = name
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("RECIPEBENCH_SIM_SCENARIO", None)
        else:
            os.environ["RECIPEBENCH_SIM_SCENARIO"] = saved


@contextlib.contextmanager
def environment():
    """Airflow settings, and the simulated cluster when RECIPEBENCH_CLUSTER names none."""
    _airflow_env()
    sim = None
    saved = dict(os.environ)
    try:
        if not os.environ.get("RECIPEBENCH_CLUSTER"):
            try:
                from recipebench.sim import SimCluster
            except ImportError:  # the image leaves the test double out
                raise SystemExit("recipebench: RECIPEBENCH_CLUSTER names no cluster and the simulated cluster is not "
                                 "installed here (it is a test double, left out of the image): set "
                                 "RECIPEBENCH_CLUSTER to gke, conn:<id> or a kubeconfig") from None

            sim = SimCluster().start()
            os.environ["RECIPEBENCH_CLUSTER"] = sim.kubeconfig
            os.environ.setdefault("RECIPEBENCH_IMAGES", "assume-present")  # the sim cannot reach Google
            # the simulated world runs time_scale times faster; so do the waits between task tries
            os.environ.setdefault("RECIPEBENCH_RETRY_DELAY_SECONDS", str(120 / sim.time_scale))
            os.environ.setdefault("RECIPEBENCH_POINT_RETRY_DELAY_SECONDS", str(5 / sim.time_scale))
            for name, conn in SIM_CONNECTIONS.items():
                os.environ.setdefault(name, json.dumps(conn))
            print(f"recipebench: no cluster configured: using the simulated cluster at {sim.url} "
                  "(results are marked simulated; placeholder credentials)", file=sys.stderr)
            ensure_accuracy_data(lambda message: print(f"recipebench: {message}", file=sys.stderr))
        yield sim
    finally:
        if sim:
            sim.stop()
        os.environ.clear()
        os.environ.update(saved)


def run_recipe(recipe_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run the DAG once; the outcome, including objects of the run still in the cluster afterwards.
    Whatever fails after the run (warehouse, cluster, artifacts gone) is said in the outcome, which
    is always returned."""
    from airflow.dag_processing.dagbag import DagBag

    from recipebench.catalog.naming import run_key
    from recipebench.pipeline.bodies import INTERRUPTED

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if recipe_id not in bag.dags:
        raise SystemExit(f"no DAG {recipe_id!r}; import errors: {bag.import_errors or 'none'}")
    dag = bag.dags[recipe_id]
    try:
        dag_run = dag.test(run_conf=params)
    except KeyboardInterrupt:  # between tasks or in an inline trigger: the DAG's teardown did not run
        STOP.set()
        dag_run = interrupted(recipe_id)
        if dag_run is None:
            raise
    else:
        if STOP.is_set():  # inside a task: the DAG went on to its teardown, but the failure may be unrecorded
            interrupted(recipe_id, dag_run.run_id)
    key = run_key(recipe_id, dag_run.run_id)
    state = str(getattr(dag_run.state, "value", dag_run.state))
    outcome: dict[str, Any] = {"recipe": recipe_id, "run_id": key, "airflow_run_id": dag_run.run_id,
                               "status": "success" if state == "success" else "failed", "failed_stage": None,
                               "reason": None, "result_rows": None, "leftover_objects": None, "simulated": None}
    problems: list[str] = []
    ledger = _guarded(problems, "artifacts", lambda: _ledger(recipe_id, key)) or {}
    failure = {k: ledger.get(k) for k in ("failed_stage", "reason")} if ledger.get("failed_stage") else \
        _guarded(problems, "metadata database", lambda: pushed_failure(dag_run)) or {}
    outcome |= {k: failure.get(k) for k in ("failed_stage", "reason")} | {"simulated": ledger.get("simulated")}
    outcome["stages"] = [[name, round(secs, 1), state] for name, secs, state in stage_seconds(ledger.get("stages") or {})]
    if failure.get("refused") or ledger.get("refused"):
        outcome["status"] = "refused"
    if ledger.get("skipped_run"):  # schedule_policy when-changed: nothing changed since the run it names
        outcome |= {"status": "skipped", "reason": ledger["skipped_run"]["reason"]}
    if outcome["reason"] == INTERRUPTED:  # Ctrl-C inside a task: the run stopped, so does `demo`
        STOP.set()
    outcome["result_rows"] = _guarded(problems, "warehouse", lambda: _result_rows(key))
    if ledger.get("target"):
        outcome["leftover_objects"] = _guarded(problems, "cluster", lambda: _leftover(ledger["target"], key))
    if problems:
        outcome["after_run_errors"] = problems
    return outcome


def _guarded(problems: list[str], what: str, call):
    """call(); on any error, None and a line in `problems` (the outcome must still be printed)."""
    try:
        return call()
    except Exception as exc:
        from recipebench.errors import reason

        line = f"{what}: {reason(exc, 360)}"
        print(f"recipebench: after the run: {line}", file=sys.stderr)
        problems.append(line)
        return None


def _ledger(recipe_id: str, key: str) -> dict:
    from recipebench.pipeline import artifacts

    return artifacts.ledger(recipe_id, key)


def _result_rows(key: str) -> int:
    from recipebench.results.warehouse import open_warehouse

    return open_warehouse().count("results", key)


def _leftover(target: dict, key: str) -> list[str]:
    """What of the run is still on the cluster once what teardown left on its way out (pods the garbage
    collector takes after their owner, objects with a deletionTimestamp) has had two minutes of the
    cluster's clock to go: teardown itself checks only what is not on its way out (Cluster.remaining)."""
    import time

    from recipebench.catalog.naming import run_selector
    from recipebench.cluster.access import Target
    from recipebench.cluster.api import Cluster

    cluster = Cluster(Target.from_dict(target))
    deadline = time.monotonic() + cluster.target.seconds(120)
    while True:
        left = [o["kind"] + "/" + o["metadata"]["name"] for o in cluster.list_labelled(run_selector(key))]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(cluster.target.seconds(2))


def pushed_failure(dag_run) -> dict | None:
    """The first failure a stage pushed to XCom (bodies.run_stage), in stage order: for when the
    ledger could not be written or read."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    from recipebench.pipeline.bodies import FAILURE_XCOM
    from recipebench.pipeline.stages import STAGE_NAMES

    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id,
                                                  key=FAILURE_XCOM)).all()
        found = {row.task_id: XComModel.deserialize_value(row) for row in rows}  # type: ignore[attr-defined]
    return next((found[s] for s in STAGE_NAMES if found.get(s)), None)


def interrupted(recipe_id: str, run_id: str | None = None):
    """After SIGTERM or Ctrl-C: the DAG run (the latest of the DAG unless named) marked failed, its
    first failure recorded (the stage it stopped in, unless a stage recorded one), whatever of it is
    still in the cluster deleted, and its runs row loaded again. Returns the DAG run, None if none."""
    import logging
    from types import SimpleNamespace

    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, State
    from sqlalchemy import select

    from recipebench.catalog.naming import run_key, run_selector
    from recipebench.catalog.params import RunConfig
    from recipebench.cluster.access import Target
    from recipebench.cluster.api import Cluster
    from recipebench.pipeline import artifacts
    from recipebench.pipeline.bodies import INTERRUPTED
    from recipebench.pipeline.loading import load_run
    from recipebench.pipeline.stages import STAGE_NAMES
    from recipebench.results.warehouse import open_warehouse

    log = logging.getLogger("recipebench")
    with create_session() as session:
        query = select(DagRun).where(DagRun.dag_id == recipe_id)
        query = query.where(DagRun.run_id == run_id) if run_id else query.order_by(DagRun.run_after.desc()).limit(1)
        dag_run = session.scalars(query).first()
        if dag_run is None:
            return None
        states = dict(session.execute(select(TaskInstance.task_id, TaskInstance.state).where(
            TaskInstance.dag_id == recipe_id, TaskInstance.run_id == dag_run.run_id)).all())
        # the stage it stopped in: the first that failed or did not finish (dag.test runs triggers inline)
        stopped = next((s for s in STAGE_NAMES if s in states and states[s] not in (State.SUCCESS, State.SKIPPED)),
                       None)
        if stopped is None:  # the signal came after the last task: nothing was cut short
            return SimpleNamespace(run_id=dag_run.run_id, state=dag_run.state)
        if dag_run.state not in State.finished_dr_states:
            dag_run.set_state(DagRunState.FAILED)
        run_id = dag_run.run_id
    key = run_key(recipe_id, run_id)
    ledger = artifacts.ledger(recipe_id, key)
    if not ledger.get("failed_stage") or ledger.get("reason") == INTERRUPTED:
        artifacts.record(recipe_id, key, failed_stage=stopped, reason=INTERRUPTED)
    if ledger.get("target"):
        failed: dict[str, str] = {}
        cluster = Cluster(Target.from_dict(ledger["target"]))
        deleted = cluster.delete_labelled(run_selector(key), failed=failed)
        left = sorted(set(failed) | set(cluster.remaining(run_selector(key))))
        print(f"recipebench: interrupted run {key}: deleted {len(deleted)} object(s)"
              + (f"; still there: {left}" if left else ""), file=sys.stderr)
        artifacts.record(recipe_id, key, leftover=left)
    data = artifacts.read_json(recipe_id, key, "run.json")
    load_run(recipe_id, key, RunConfig.model_validate(data) if data else None, open_warehouse(), log)
    return SimpleNamespace(run_id=run_id, state="failed")
