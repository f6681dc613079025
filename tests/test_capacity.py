"""Shared GPU capacity: one run at a time on a node pool, in the order runs asked, through a Lease
that a killed run cannot hold for ever; and two real runs on one pool at once."""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
from recipebench.catalog.recipe import load_catalog, load_recipe
from recipebench.cluster.access import parse_target
from recipebench.cluster.api import Cluster
from recipebench.cluster.capacity import LockSpec, needs_lock, step, take_step

from tests.conftest import REPO

pytestmark = pytest.mark.e2e  # runs sharing a node pool


def spec(holder, recipe="r", duration=600.0):
    return LockSpec(name="gpu-pool-a4x", pool="a4x node pool of bench-a4x", holder=holder, recipe=recipe,
                    duration_s=duration)


def test_a_free_pool_is_taken_and_a_held_one_queued_in_order():
    lease = {}
    a = step(lease, spec("ra", "trtllm"), now=1000)
    assert a.acquired and a.changed and a.lease["spec"]["holderIdentity"] == "ra"
    b = step(a.lease, spec("rb", "dynamo"), now=1001)
    assert not b.acquired and "held by run ra (trtllm)" in b.status
    c = step(b.lease, spec("rc", "other"), now=1002)
    assert not c.acquired and "1 run(s) ahead of this one (dynamo)" in c.status
    released = step(c.lease, spec("ra"), now=1100, want=False)
    assert released.lease["spec"]["holderIdentity"] is None
    assert not step(released.lease, spec("rc"), now=1101).acquired  # rb asked first
    took = step(released.lease, spec("rb"), now=1101)
    assert took.acquired and took.lease["spec"]["holderIdentity"] == "rb"
    assert json.loads(took.lease["metadata"]["annotations"]["recipebench.dev/waiting"])[0]["run"] == "rc"


def test_a_holder_that_stops_renewing_loses_the_pool_and_a_gone_waiter_its_place():
    held = step({}, spec("ra"), now=1000).lease
    waiting = step(held, spec("rb"), now=1100).lease
    assert not step(waiting, spec("rb"), now=1500).acquired  # ra renewed 500 s ago: still alive
    took = step(waiting, spec("rb"), now=1700)  # 700 s without a renewal
    assert took.acquired and "run ra stopped renewing it" in took.status
    # a waiter that stopped asking drops out of the queue: rc is not held up by it
    queued = step(step({}, spec("ra"), now=0).lease, spec("rgone"), now=10).lease
    assert step(step(queued, spec("ra"), now=900, want=False).lease, spec("rc"), now=901).acquired


def test_a_renewal_keeps_it_and_polling_does_not_write_every_time():
    held = step({}, spec("ra"), now=1000).lease
    assert step(held, spec("ra"), now=1300).acquired
    waiting = step(held, spec("rb"), now=1001).lease
    assert not step(waiting, spec("rb"), now=1002).changed  # nothing new to write


def test_which_recipes_take_a_lock():
    catalog = load_catalog()[0]
    # a4x mixes Kueue (trtllm) and non-Kueue (Dynamo through Grove) recipes: both lock
    assert needs_lock(catalog["trtllm-a4x-deepseek-r1-nvfp4"], catalog)
    assert needs_lock(catalog["dynamo-a4x-deepseek-r1-1p1d"], catalog)
    assert needs_lock(catalog["sglang-a3mega-deepseek-r1-lws"], catalog)  # LeaderWorkerSet: no Kueue label
    assert not needs_lock(catalog["sglang-a3ultra-llama4-scout"], catalog)  # every a3ultra recipe is in Kueue


def test_a_killed_holders_lease_expires_on_the_cluster(sim):
    cluster = Cluster(parse_target(sim.kubeconfig))
    now = time.time()
    killed, waiting = spec("rkilled", "trtllm", duration=30), spec("rnext", "dynamo", duration=30)
    assert take_step(cluster, killed, now).acquired
    assert not take_step(cluster, waiting, now + 1).acquired
    later = take_step(cluster, waiting, now + 31)
    assert later.acquired and "run rkilled stopped renewing it" in later.status
    lease = cluster.get("coordination.k8s.io/v1", "Lease", "recipebench", "gpu-pool-a4x")
    assert lease["spec"]["holderIdentity"] == "rnext" and lease["spec"]["leaseTransitions"] == 1
    take_step(cluster, waiting, now + 32, want=False)


def test_two_runs_on_one_node_pool_at_once(sim, airflow_db, tmp_path):
    """trtllm and Dynamo on the a4x pool, started at the same moment: the second deploys only after
    the first's teardown, both succeed, and the wait did not eat the second's readiness limit."""
    recipes = ["trtllm-a4x-deepseek-r1-nvfp4", "dynamo-a4x-deepseek-r1-1p1d"]
    procs = []
    for recipe in recipes:
        home = tmp_path / recipe
        home.mkdir()
        shutil.copy(airflow_db / "airflow.db", home / "airflow.db")  # the migrated metadata database
        (home / ".recipebench-migrated").write_text("ok\n")
        env = {**os.environ, "AIRFLOW_HOME": str(home), "RECIPEBENCH_CLUSTER": sim.kubeconfig,
               "RECIPEBENCH_IMAGES": "assume-present", "RECIPEBENCH_RETRY_DELAY_SECONDS": "0.3",
               "AIRFLOW_CONN_HUGGINGFACE_DEFAULT": json.dumps({"conn_type": "generic", "password": "x"}),
               "AIRFLOW_CONN_NGC_DEFAULT": json.dumps({"conn_type": "generic", "password": "y"})}
        env.pop("RECIPEBENCH_SIM_SCENARIO", None)
        procs.append(subprocess.Popen([sys.executable, "-m", "recipebench", "run", recipe], cwd=REPO, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
    outcomes = [json.loads(p.communicate(timeout=600)[0].strip().splitlines()[-1]) for p in procs]
    assert [o["status"] for o in outcomes] == ["success", "success"], outcomes
    from recipebench.pipeline import artifacts

    ledgers = {o["recipe"]: artifacts.ledger(o["recipe"], o["run_id"]) for o in outcomes}
    stages = {r: ledger["stages"] for r, ledger in ledgers.items()}
    first, second = sorted(recipes, key=lambda r: stages[r]["deploy"]["start"])
    assert stages[second]["deploy"]["start"] >= stages[first]["teardown"]["end"], "the pools' runs overlapped"
    waited = stages[second]["reserve_gpus"]  # until the first run's workload was gone
    assert waited["start"] < ledgers[first]["workload_deleted_at"] <= waited["end"]
    assert waited["busy"] < (waited["end"] - waited["start"]) / 2, "the wait for the GPUs held no worker slot"
    limit = load_recipe(second).ready_budget_minutes * 60 / sim.time_scale
    assert stages[second]["wait_ready"]["end"] - stages[second]["wait_ready"]["start"] < limit / 2
    lease = Cluster(parse_target(sim.kubeconfig)).get("coordination.k8s.io/v1", "Lease", "recipebench",
                                                      "gpu-pool-a4x")
    assert lease["spec"]["holderIdentity"] is None, "the last run gave the pool back"


@pytest.fixture
def sim():
    from recipebench.sim import SimCluster

    cluster = SimCluster().start()
    yield cluster
    cluster.stop()
