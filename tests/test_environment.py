"""A run's environment and where its GPU-hours went (issue 24, items 1 and 2): the probe's block
parsed for each framework's image family, a node's status mapped to the columns, the split of a
recorded run's timeline (pure), and the probe itself run by bash."""

import os
import stat
import subprocess

import pytest
from recipebench.parsers.server_log import environment_block, rfc3339, timestamped, weights_loaded_at
from recipebench.results import environment, gpu_time
from recipebench.results.inputs import input_diff

from tests.conftest import REPO

SAMPLES = REPO / "tests" / "samples"
FAMILIES = {  # family: (GPUs, driver, CUDA, NCCL, framework package, its version, weights loaded at)
    "sglang": (8, "570.133.20", "12.4", "2.21.5", "sglang", "0.4.6.post4", "2026-11-30T02:09:41.661839Z"),
    "vllm": (2, "570.133.20", "12.8", "2.26.2", "vllm", "0.9.1", "2026-11-30T03:06:13.019557Z"),
    "trtllm": (4, "570.133.20", "12.9", "2.27.3", "tensorrt_llm", "1.3.0rc5", "2026-11-30T04:21:50.790442Z"),
    "dynamo": (4, "580.65.06", "12.9", "2.27.7", "ai-dynamo", "0.7.0", "2026-11-30T05:07:33.200118Z"),
}


@pytest.mark.parametrize("family", FAMILIES)
def test_the_block_and_the_weights_line_of_each_image_family(family):
    gpus, driver, cuda, nccl, package, version, loaded = FAMILIES[family]
    lines = timestamped((SAMPLES / f"environment-{family}.log").read_text())
    block = environment_block(lines)
    assert len(block["gpus"]) == gpus and {g["driver_version"] for g in block["gpus"]} == {driver}
    assert (block["cuda"], block["nccl"], block["packages"][package]) == (cuda, nccl, version)
    assert block["errors"] == []
    # vLLM logs it once per worker: the last worker to finish is when the server has its weights
    assert weights_loaded_at(family, lines) == pytest.approx(rfc3339(loaded), abs=1e-6)
    env = environment.summarize(family, {"pod-0": block}, {})
    assert (env["driver_version"], env["cuda_version"], env["nccl_version"], env["server_version"]) == (
        driver, cuda, nccl, version)  # no version reported by the server: its package's


def test_a_restarted_container_counts_its_last_block_and_a_broken_probe_is_said():
    first = (SAMPLES / "environment-vllm.log").read_text()
    again = first.replace("570.133.20", "580.65.06").replace("torch: 2.7.0+cu128", "error: torch: ImportError x")
    block = environment_block(timestamped(first + again))
    assert {g["driver_version"] for g in block["gpus"]} == {"580.65.06"}
    assert block["errors"] == ["torch: ImportError x"]
    assert environment_block(timestamped("=== recipebench environment begin ===\ngpu: 0, X")) is None  # cut off
    smi = environment_block(timestamped("=== recipebench environment begin ===\ngpu: NVIDIA-SMI has failed because it "
                                        "couldn't communicate with the NVIDIA driver.\n=== recipebench environment end ==="))
    assert smi["gpus"] == [] and smi["errors"][0].startswith("nvidia-smi: NVIDIA-SMI has failed")


def test_a_node_status_maps_to_the_columns_and_disagreement_is_kept():
    node = {"metadata": {"name": "gke-a4-0", "labels": {"cloud.google.com/gke-nodepool": "a4-pool",
                                                        "node.kubernetes.io/instance-type": "a4-highgpu-8g"}},
            "status": {"nodeInfo": {"kubeletVersion": "v1.33.5-gke.1080000", "osImage": "Container-Optimized OS from "
                                    "Google", "kernelVersion": "6.6.93+", "containerRuntimeVersion": "containerd://2.0.6"}}}
    info = environment.node_info(node)
    assert info == {"kubelet_version": "v1.33.5-gke.1080000", "os_image": "Container-Optimized OS from Google",
                    "kernel": "6.6.93+", "container_runtime": "containerd://2.0.6", "node_pool": "a4-pool",
                    "machine_type": "a4-highgpu-8g"}
    old = environment_block(timestamped((SAMPLES / "environment-sglang.log").read_text()))
    new = {**old, "gpus": [{**g, "driver_version": "580.65.06"} for g in old["gpus"]]}
    env = environment.summarize("sglang", {"leader": old, "worker": new, "late": None},
                                {"gke-a4-0": info, "gke-a4-1": None}, reported_version="0.4.6.post4")
    assert env["driver_version"] == "570.133.20, 580.65.06"
    assert any("driver differs" in n for n in env["notes"]) and "late printed no environment block" in env["notes"]
    assert env["node_image"] == "Container-Optimized OS from Google" and env["node_pools"] == ["a4-pool"]
    assert environment.columns(env) == {"driver_version": "570.133.20, 580.65.06", "cuda_version": "12.4",
                                        "nccl_version": "2.21.5", "server_version": "0.4.6.post4",
                                        "node_image": "Container-Optimized OS from Google"}


def test_the_input_diff_names_an_environment_change_and_not_an_unknown_one():
    before = {"driver_version": "570.133.20", "nccl_version": "2.26.2", "cuda_version": None}
    after = {"driver_version": "580.65.06", "nccl_version": "2.26.2", "cuda_version": "12.8"}
    assert input_diff(before, after) == [("driver", "570.133.20", "580.65.06")]


# a recorded run (seconds after deploy began): scheduled at 120, container started at 300 (its image
# pulled), weights loaded at 900, ready at 1200, accuracy 1200-1500, two points 1520-2120 and 2150-2750,
# teardown 2800-2860; 8 GPUs
RUN = dict(held_from=0.0, held_until=2860.0, gpus=8, scheduled=120.0, started=300.0, weights_loaded=900.0,
           ready=1200.0, teardown_start=2800.0, accuracy=(1200.0, 1500.0), points=[(1520.0, 2120.0), (2150.0, 2750.0)])


def test_a_recorded_run_splits_into_its_phases_and_sums_to_its_gpu_hours():
    out = gpu_time.split(gpu_time.Timeline(**RUN))
    assert out["seconds"] == {"waiting_for_nodes": 120.0, "image_pull": 180.0, "weights": 600.0, "warmup": 300.0,
                              "accuracy": 300.0, "measured": 1200.0, "idle": 100.0, "teardown": 60.0}
    assert sum(out["gpu_hours"].values()) == pytest.approx(8 * 2860 / 3600)
    assert out["gpu_hours"]["measured"] == pytest.approx(8 * 1200 / 3600)
    assert out["measured_share"] == pytest.approx(1200 / 2860) and out["notes"] == []


def test_a_run_that_never_came_up_spends_the_rest_where_it_stopped():
    pull = gpu_time.split(gpu_time.Timeline(**{**RUN, "started": None, "weights_loaded": None, "ready": None,
                                               "accuracy": None, "points": []}))
    assert pull["seconds"]["image_pull"] == 2800.0 - 120.0 and pull["seconds"]["measured"] == 0.0
    assert "no started time was seen" in pull["notes"]
    crash = gpu_time.split(gpu_time.Timeline(**{**RUN, "weights_loaded": None, "ready": None, "accuracy": None,
                                                "points": []}))
    assert crash["seconds"]["weights"] == 2800.0 - 300.0
    # a weights line that was not seen: its time is the warm-up's, and said
    unseen = gpu_time.split(gpu_time.Timeline(**{**RUN, "weights_loaded": None}))
    assert unseen["seconds"]["weights"] == 0.0 and unseen["seconds"]["warmup"] == 900.0
    assert "no weights loaded time was seen" in unseen["notes"]


def test_an_offline_job_measures_after_its_weights_and_clocks_out_of_order_are_clamped():
    offline = gpu_time.split(gpu_time.Timeline(held_from=0.0, held_until=1000.0, gpus=4, scheduled=50.0, started=80.0,
                                               weights_loaded=500.0, ready=950.0, teardown_start=960.0, offline=True))
    assert offline["seconds"] == {"waiting_for_nodes": 50.0, "image_pull": 30.0, "weights": 420.0, "warmup": 0.0,
                                  "accuracy": 0.0, "measured": 450.0, "idle": 10.0, "teardown": 40.0}
    skewed = gpu_time.split(gpu_time.Timeline(**{**RUN, "scheduled": -5.0, "started": 90.0}))  # a node clock behind
    assert skewed["seconds"]["waiting_for_nodes"] == 0.0 and skewed["seconds"]["image_pull"] == 90.0
    assert sum(skewed["seconds"].values()) == pytest.approx(2860.0)


def test_the_timeline_is_read_from_a_ledger():
    ledger = {"stages": {"accuracy": {"start": 1200.0, "end": 1500.0}, "teardown": {"start": 2800.0, "end": 2860.0}},
              "startup": {"scheduled": 120.0, "started": 300.0, "weights_loaded": 900.0}, "ready_at": 1200.0,
              "accuracy": {"task": "gsm8k"}, "point_times": {"a": [1520.0, 2120.0], "b": [2150.0, 2750.0],
                                                             "unfinished": [2790.0, None]}}
    assert gpu_time.from_ledger(ledger, 8, False, 0.0, 2860.0) == gpu_time.Timeline(**RUN)


def test_the_probe_runs_under_set_e_and_prints_a_block_the_parser_reads(tmp_path):
    """The probe as a GPU container runs it (bash, set -e), with an nvidia-smi that answers in its CSV
    format and this machine's python3 (no torch here: said as an error, the server still starts)."""
    from recipebench.manifests.command_lines import environment_probe

    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho '0, NVIDIA H200, 570.133.20, 143771 MiB'\necho '1, NVIDIA H200, 570.133.20, "
                   "143771 MiB'\n")
    smi.chmod(smi.stat().st_mode | stat.S_IEXEC)
    script = f"set -e\n{environment_probe('vllm')}echo server-started\n"
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"})
    assert out.returncode == 0 and out.stdout.rstrip().endswith("server-started"), out
    block = environment_block(timestamped(out.stdout))
    assert [g["name"] for g in block["gpus"]] == ["NVIDIA H200"] * 2 and block["python"]
    assert any(e.startswith("torch:") for e in block["errors"]) or block["torch"]
