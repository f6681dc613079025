"""What would break on a real cluster, checked from the upstream facts: the rendered objects, the
command lines, and the simulator's copies of the controllers' rules (each names its source)."""

import asyncio
import copy
import json
import math
import re
import subprocess
import time

import pytest
from recipebench.catalog.recipe import RecipeError, deep_merge, load_recipe, resolve
from recipebench.clients import client
from recipebench.cluster.access import target_for
from recipebench.cluster.api import Cluster
from recipebench.cluster.readiness import assess, assess_job, observe, observe_job
from recipebench.manifests import command_lines
from recipebench.manifests.errors import ManifestError
from recipebench.manifests.render import example_run, render_all, render_bench_job, render_workload
from recipebench.manifests.validation import check_invariants, validate_objects
from recipebench.sim import dynamo
from recipebench.sim.scheduler import place, seed_nodes


def objects(recipe_id, kind):
    return [o for o in render_all(example_run(load_recipe(recipe_id))) if o["kind"] == kind]


def variant(recipe_id, **changes):
    base = load_recipe(recipe_id)
    return resolve(base.id, deep_merge(base.model_dump(mode="json", exclude={"id"}), changes), "test")


@pytest.fixture
def sim(own_sim):  # a fresh cluster per test here, not the module's shared one
    return own_sim


def wait_for(fn, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


# ---- 1. Dynamo multi-node workers get the operator's flags ---------------------------------------------


def decode_container(recipe_id="dynamo-a4x-deepseek-r1-10p8d"):
    (dgd,) = objects(recipe_id, "DynamoGraphDeployment")
    return dgd, dgd["spec"]["services"]["Decode"]["extraPodSpec"]["mainContainer"]


def test_the_operator_can_inject_the_multinode_flags_into_our_workers():
    """injectFlagsIntoContainerCommand only handles command[0] == python or one args string holding
    `python... sglang`; the worker must be that one script."""
    _, main = decode_container()
    assert main["command"] == ["/bin/bash", "-c"] and len(main["args"]) == 1
    assert main["args"][0].rstrip().split("\n")[-1].startswith("exec python3 -m dynamo.sglang ")
    rank1 = copy.deepcopy(main)
    dynamo.update_container(rank1, "Decode", 8, 1)
    assert re.search(r"exec python3 -m dynamo\.sglang --dist-init-addr \S+:29500 --nnodes 8 "
                     r"--node-rank \$\(\(GROVE_PCLQ_POD_INDEX \+ 1\)\) --model-path", rank1["args"][0])
    assert "readinessProbe" not in rank1 and "startupProbe" not in rank1  # the operator drops non-leader probes
    assert dynamo.missing_gpus(rank1, 4) is None  # 32 TP ranks over 8 nodes of 4 GPUs


@pytest.mark.parametrize("container, injected", [
    ({"command": ["python3"], "args": ["-m", "dynamo.sglang", "--tp-size", "8"]}, True),
    ({"command": ["python3.12"], "args": ["-m", "dynamo.sglang"]}, True),
    ({"command": ["sh", "-c"], "args": ["source x && exec python3 -m dynamo.sglang --tp-size 8"]}, True),
    # the previous rendering: the python call split over separate args after a bash -c wrapper
    ({"command": ["/bin/bash", "-c", 'source x && exec "$@"', "decode"],
      "args": ["python3", "-m", "dynamo.sglang", "--tp-size", "8"]}, False),
])
def test_flag_injection_follows_the_operators_two_forms(container, injected):
    assert dynamo.inject_flags(container, "--nnodes 2 --node-rank 0", needs_shell=False) is injected
    assert ("--nnodes 2" in dynamo.command_text(container)) is injected


def test_a_multinode_worker_the_operator_cannot_reach_fails_in_the_simulator(sim):
    """The simulator's DGD controller applies the operator's rule: a worker rendered the old way starts
    without --nnodes, its 32 TP ranks find 4 GPUs, and it crash-loops the way SGLang does."""
    run = example_run(load_recipe("dynamo-a4x-deepseek-r1-10p8d"), "rsplit0001")
    objs = render_workload(run)
    (dgd,) = [o for o in objs if o["kind"] == "DynamoGraphDeployment"]
    main = dgd["spec"]["services"]["Decode"]["extraPodSpec"]["mainContainer"]
    script = main["args"][0]  # the previous rendering: the python call as separate args after `exec "$@"`
    main["command"] = ["/bin/bash", "-c", script.rsplit("exec ", 1)[0] + 'exec "$@"', "decode"]
    main["args"] = script.rsplit("exec ", 1)[1].split()
    cluster = Cluster(target_for(run.recipe))
    cluster.ensure_namespace(run.recipe.cluster.namespace)
    cluster.apply(objs)
    result = wait_for(lambda: (r := assess(observe(cluster, "disaggregated", run.recipe.cluster.namespace, run.name,
                                                   run.run_key), 0, 0, 1e9, 1e9)).state == "failed" and r)
    assert result and result.reason.startswith("crash loop: container main of pod"), result
    assert any("invalid device ordinal" in line for line in result.evidence)


# ---- 2. ready means the server serves the model --------------------------------------------------------


def run_trigger(trigger, timeout=30):
    async def first():
        async for event in trigger.run():
            return event.payload
    return asyncio.run(asyncio.wait_for(first(), timeout))


def deployed_trigger(sim, recipe_id, key, ready_minutes=None):
    from recipebench.pipeline.bodies import ready_trigger

    recipe = load_recipe(recipe_id) if ready_minutes is None else variant(recipe_id, timeouts={
        "ready_minutes": ready_minutes}, model={"size_gb": None})
    run = example_run(recipe, key)
    cluster = Cluster(target_for(run.recipe))
    cluster.ensure_namespace(run.recipe.cluster.namespace)
    cluster.apply(render_workload(run))
    trigger, _ = ready_trigger(run, cluster.target)
    return run, trigger


def test_health_before_the_model_is_served_is_not_ready(sim, monkeypatch):
    """The simulated server answers its health probe 10 minutes (simulated) before it lists the model;
    the trigger reports ready only once the model is listed and a completion succeeded."""
    monkeypatch.setenv("RECIPEBENCH_SIM_SCENARIO", "health-before-load")
    run, trigger = deployed_trigger(sim, "vllm-a4-deepseek-r1", "rhealth001")
    payload = run_trigger(trigger)
    assert payload["state"] == "ready", payload
    (dep,) = [o for o in sim.store.all() if o["kind"] == "Deployment"]
    state = sim.kubelet.serving[dep["metadata"]["uid"]]
    assert state["served"] and sim.now() - state["since"] >= 600, "ready came before the model was served"


@pytest.mark.parametrize("scenario, reason", [
    ("model-never-served", "reports ready, but /v1/models does not list deepseek-ai/DeepSeek-R1 yet (it lists "
                           "deepseek-ai/DeepSeek-R1-other)"),
    ("completion-fails", "reports ready, but deepseek-ai/DeepSeek-R1 is listed but a test completion failed "
                         "(500: CUDA error: an illegal memory access was encountered)"),
])
def test_a_server_that_never_serves_fails_with_the_last_answer(sim, monkeypatch, scenario, reason):
    monkeypatch.setenv("RECIPEBENCH_SIM_SCENARIO", scenario)
    run, trigger = deployed_trigger(sim, "dynamo-a4x-deepseek-r1-1p1d", "rnever0001", ready_minutes=5)
    payload = run_trigger(trigger)
    assert payload["state"] == "failed"
    assert payload["reason"].startswith("not serving after 5 min: DynamoGraphDeployment ") and reason in \
        payload["reason"], payload["reason"]


def test_multinode_dynamo_reports_ready_before_its_model_is_served(sim):
    """The simulator mirrors the gap (the operator drops multi-node worker probes; the frontend's health
    does not wait for the model): the DGD says successful while /v1/models is still empty."""
    run, trigger = deployed_trigger(sim, "dynamo-a4x-deepseek-r1-10p8d", "rgap000001")
    cluster = Cluster(target_for(run.recipe))
    ns = run.recipe.cluster.namespace

    def successful_but_empty():
        dgd = cluster.get("nvidia.com/v1alpha1", "DynamoGraphDeployment", ns, run.name)
        status, text = cluster.service_request(ns, f"{run.name}-frontend", 8000, "GET", "/v1/models")
        return (dgd.get("status") or {}).get("state") == "successful" and status == 200 and \
            json.loads(text)["data"] == []
    assert wait_for(successful_but_empty), "the simulated frontend listed the model as soon as the DGD was ready"
    assert run_trigger(trigger)["state"] == "ready"


# ---- 3. and 6. one length distribution, each tool's own flags, requests inside the context --------------

def vllm_window(length, ratio):
    """vllm/benchmarks/datasets.py RandomDataset: [floor(X(1-b)), ceil(X(1+b))], b < 1 asserted."""
    assert ratio < 1.0, "random_range_ratio must be < 1.0 to ensure a valid sampling range"
    return math.floor(length * (1 - ratio)), math.ceil(length * (1 + ratio))


def flag(flags, name):
    return flags[flags.index(name) + 1]


@pytest.mark.parametrize("lengths, window", [(None, (1000, 1000)), (0.8, (800, 1000))])
def test_vllm_gets_a_ratio_it_accepts_and_the_recipes_window(lengths, window):
    from recipebench.catalog.recipe import BenchmarkPoint, LengthSpec

    spec = LengthSpec() if lengths is None else LengthSpec(distribution="uniform", min_fraction=lengths)
    flags = client("vllm-benchmark-serving").length_flags(spec, BenchmarkPoint(input_len=1000, output_len=1000,
                                                                                    num_prompts=1))
    low, high = vllm_window(int(flag(flags, "--random-input-len")), float(flag(flags, "--random-range-ratio")))
    assert high <= window[1] and abs(low - window[0]) <= 1


def test_sglang_and_aiperf_use_the_lower_bound_semantics():
    point = load_recipe("dynamo-a4x-deepseek-r1-1p1d").benchmark.points[0]
    lengths = load_recipe("dynamo-a4x-deepseek-r1-1p1d").benchmark.lengths
    sglang = client("sglang-bench-serving").length_flags(lengths, point)
    assert flag(sglang, "--random-range-ratio") == "0.8"  # [int(L*0.8), L] (bench_serving.sample_random_requests)
    aiperf = client("aiperf").length_flags(lengths, point)
    assert aiperf == ["--isl", "8192", "--osl", "1024", "--random-range-ratio", "0.8", "--random-corpus-style", "sglang"]
    fixed = client("sglang-bench-serving").length_flags(load_recipe("sglang-a3ultra-deepseek-r1").benchmark.lengths,
                                       load_recipe("sglang-a3ultra-deepseek-r1").benchmark.points[0])
    assert flag(fixed, "--random-range-ratio") == "1"


def test_the_rendered_clients_carry_the_translation():
    vllm = objects("vllm-a4-deepseek-r1", "Job")[0]["spec"]["template"]["spec"]["containers"][0]["command"][2]
    assert "--random-range-ratio 0 " in vllm
    aiperf = objects("dynamo-a4x-deepseek-r1-1p1d", "Job")[0]["spec"]["template"]["spec"]["containers"][0]["command"][2]
    assert "--random-range-ratio 0.8 --random-corpus-style sglang" in aiperf
    assert "stddev" not in aiperf and "--endpoint-type completions" in aiperf


def test_a_point_longer_than_the_context_is_refused_at_validation():
    with pytest.raises(RecipeError, match=r"benchmark point i9000-o1024-c512-rinf-n2560: its longest request \(9000 "
                                          r"input \+ 1024 output tokens\) exceeds the server's context length of 9600"):
        variant("dynamo-a4x-deepseek-r1-1p1d", benchmark={"points": [
            {"input_len": 9000, "output_len": 1024, "concurrency": 512, "num_prompts": 2560}]})
    from recipebench.catalog.params import apply_params

    with pytest.raises(RecipeError, match="exceeds the server's context length of 9300"):
        apply_params(load_recipe("dynamo-a4x-deepseek-r1-10p8d"), {"input_len": 9000})


def test_lengths_are_stated_once_per_recipe():
    with pytest.raises(RecipeError, match="min_fraction is required with distribution uniform"):
        variant("vllm-a4-deepseek-r1", benchmark={"lengths": {"distribution": "uniform"}})
    with pytest.raises(RecipeError, match=r"benchmark.points.0.range_ratio: Extra inputs are not permitted"):
        variant("vllm-a4-deepseek-r1", benchmark={"points": [{"input_len": 1, "output_len": 1, "num_prompts": 1,
                                                             "range_ratio": 0.5}]})


# ---- 4. the Dynamo client is placed where A4X can run it ------------------------------------------------


def test_the_scheduler_refuses_what_the_real_one_would():
    """A4X's arm64 nodes are its GPU nodes, tainted nvidia.com/gpu and kubernetes.io/arch=arm64."""
    nodes = seed_nodes()
    pod = {"metadata": {"name": "p", "namespace": "d"}, "spec": {"nodeSelector": {"kubernetes.io/arch": "arm64"},
                                                                 "containers": [{"name": "c"}]}}
    node, message = place(pod, nodes, [])
    assert node is None and message == ("0/27 nodes are available: 24 node(s) had untolerated taint {nvidia.com/gpu: "
                                        "present}, 3 node(s) didn't match Pod's node affinity/selector.")
    pod["spec"]["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert "had untolerated taint {kubernetes.io/arch: arm64}" in place(pod, nodes, [])[1]
    pod["spec"]["tolerations"].append({"key": "kubernetes.io/arch", "operator": "Equal", "value": "arm64",
                                       "effect": "NoSchedule"})
    assert place(pod, nodes, [])[0].startswith("gke-a4x-")


def test_the_aiperf_client_runs_on_the_cpu_pool_from_its_own_image():
    recipe = load_recipe("dynamo-a4x-deepseek-r1-1p1d")
    spec = objects(recipe.id, "Job")[0]["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == {"kubernetes.io/arch": "amd64"} and spec["tolerations"] == []
    assert spec["containers"][0]["image"] == f"{recipe.cluster.artifact_registry}/aiperf-client:0.13.0"
    node, message = place({"metadata": {"name": "p", "namespace": "d"}, "spec": spec}, seed_nodes(), [])
    assert node and node.startswith("gke-system-"), message


def test_a_client_no_node_can_take_fails_the_point_at_once(sim):
    """The old rendering (arm64, no tolerations): the Job is stuck, and says why, instead of timing out."""
    run = example_run(load_recipe("dynamo-a4x-deepseek-r1-1p1d"), "rstuck0001")
    job = render_bench_job(run, run.recipe.benchmark.points[0], 0)
    job["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/arch": "arm64"}
    cluster = Cluster(target_for(run.recipe))
    cluster.ensure_namespace(run.recipe.cluster.namespace)
    cluster.apply([job])
    name, ns = job["metadata"]["name"], run.recipe.cluster.namespace
    outcome = wait_for(lambda: (o := assess_job(*observe_job(cluster, ns, name))).state == "stuck" and o)
    assert outcome.reason.startswith("unschedulable: pod ") and "untolerated taint" in outcome.reason


def test_framework_clients_run_beside_the_server_from_its_image():
    for recipe_id, component in (("vllm-a4-deepseek-r1", "server"), ("sglang-a3mega-deepseek-r1-lws", "leader")):
        recipe = load_recipe(recipe_id)
        spec = objects(recipe_id, "Job")[0]["spec"]["template"]["spec"]
        (term,) = spec["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert term["topologyKey"] == "kubernetes.io/hostname"
        assert term["labelSelector"]["matchLabels"]["recipebench.dev/component"] == component
        assert spec["containers"][0]["image"] == recipe.image_ref()
        assert "nvidia.com/gpu" not in json.dumps(spec["containers"][0]["resources"])


# ---- 7. the image's library path is extended, never replaced ------------------------------------------


@pytest.mark.parametrize("recipe_id, kind, first", [
    ("trtllm-a4x-deepseek-r1-nvfp4", "Job", "/usr/local/gib/lib64:/usr/local/nvidia/lib64"),
    ("vllm-a4-deepseek-r1", "Deployment", "/usr/local/nvidia/lib64:/usr/local/lib")])  # upstream's (test_upstream_rules)
def test_the_image_library_path_is_kept(recipe_id, kind, first):
    """The NGC TensorRT-LLM image keeps CUDA compat, torch and TensorRT folders in LD_LIBRARY_PATH
    (NVIDIA/TensorRT-LLM docker/Dockerfile.multi on nvcr.io/nvidia/pytorch, install_tensorrt.sh)."""
    workload = objects(recipe_id, kind)[0]
    container = workload["spec"]["template"]["spec"]["containers"][0]
    assert not [e for e in container["env"] if e["name"] == "LD_LIBRARY_PATH"]
    (export,) = [ln for ln in container["command"][2].split("\n") if ln.startswith("export LD_LIBRARY_PATH=")]
    image_value = "/usr/local/tensorrt/lib:/usr/local/cuda/compat/lib"
    out = subprocess.run(["bash", "-c", f"{export}; echo $LD_LIBRARY_PATH"], env={"LD_LIBRARY_PATH": image_value},
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == f"{first}:{image_value}"


def test_replacing_the_library_path_is_refused():
    (job,) = objects("trtllm-a4x-deepseek-r1-nvfp4", "Job")
    job["spec"]["template"]["spec"]["containers"][0]["env"].append({"name": "LD_LIBRARY_PATH", "value": "/x"})
    with pytest.raises(ManifestError, match="env LD_LIBRARY_PATH replaces the image's own library path"):
        check_invariants(job)
    with pytest.raises(RecipeError, match="serving.env: LD_LIBRARY_PATH replaces the image's own value"):
        variant("trtllm-a4x-deepseek-r1-nvfp4", serving={"env": {"LD_LIBRARY_PATH": "/x"}})


# ---- the risks, decided ---------------------------------------------------------------------------


def test_hf_transfer_is_enabled_only_for_images_that_ship_it():
    """huggingface_hub raises when HF_HUB_ENABLE_HF_TRANSFER=1 and hf_transfer is missing (file_download.http_get)."""
    def enabled(recipe_id, kind):
        c = objects(recipe_id, kind)[0]["spec"]["template"]["spec"]["containers"][0]
        return any(e["name"] == "HF_HUB_ENABLE_HF_TRANSFER" for e in c["env"])
    assert not enabled("trtllm-a4x-deepseek-r1-nvfp4", "Job")
    assert enabled("vllm-a4-deepseek-r1", "Deployment") and enabled("sglang-a3ultra-deepseek-r1", "Deployment")


def test_the_client_prints_only_its_result_files_as_the_simulator_does(tmp_path):
    """The real shell printer against the Python framing the simulator and the collector use: inputs.json
    (every prompt AIPerf sent) is never printed; a file over 1 MiB is compressed."""
    results = tmp_path / "results"
    (results / "sub").mkdir(parents=True)
    files = {"t1.profile_export_aiperf.json": '{"request_count": {"avg": 3}}\n',
             "t1.profile_export_aiperf.csv": "Metric,avg\r\nRequest Count,3\r\n" + "x" * (1 << 20)}
    for name, text in files.items():
        (results / "sub" / name).write_bytes(text.encode())
    (results / "t1.inputs.json").write_text('{"data": []}')
    script = command_lines.print_results_script(client("aiperf").files(["p"]), str(results))
    printed = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    # line for line the same framing, but for the compressed body (GNU gzip and zlib deflate differently)
    compressed = lambda lines: [ln if len(ln) < 1000 else "<gzip+base64>" for ln in lines]  # noqa: E731
    assert compressed(printed.split("\n")[:-1]) == compressed(command_lines.frame_outputs(files))
    assert "inputs.json" not in printed and command_lines.unframe_outputs(printed) == files


def test_a_log_that_lost_files_is_refused_naming_them():
    framed = command_lines.frame_outputs({"result.json": '{"completed": 1}\n', "other.txt": "x"})
    with pytest.raises(command_lines.OutputsIncomplete, match=r"result.json \(17 bytes\) is missing from the pod "
                                                              r"log: kubelet keeps only the newest 10 MiB"):
        command_lines.unframe_outputs("\n".join(framed[3:]))
    with pytest.raises(command_lines.OutputsIncomplete, match="no output manifest"):
        command_lines.unframe_outputs("\n".join(framed[:-1]))
    with pytest.raises(command_lines.OutputsIncomplete, match="differs from the file the pod printed"):
        command_lines.unframe_outputs("\n".join(framed).replace('"completed": 1', '"completed": 9'))


def test_the_ngc_user_name_is_not_expanded_by_the_shell():
    """`--username "$oauthtoken"` expands to an empty user name; the literal needs single quotes."""
    from recipebench.cluster.platform import DYNAMO_PLATFORM, helm_script

    script = helm_script(DYNAMO_PLATFORM).replace("helm upgrade", "printf '%s\\n'", 1)
    out = subprocess.run(["bash", "-c", script], env={"NGC_API_KEY": "k"}, capture_output=True, text=True).stdout
    assert "$oauthtoken\n" in out and "k\n" in out


def test_startup_budgets_follow_the_model_size():
    with pytest.raises(RecipeError, match="timeouts.ready_minutes 60 is too short for 801 GB of weights: at least 96"):
        variant("sglang-a3ultra-llama4-maverick", timeouts={"ready_minutes": 60})
    for recipe_id in ("sglang-a3mega-deepseek-r1-lws", "vllm-a4-deepseek-r1"):
        recipe = load_recipe(recipe_id)
        workload = objects(recipe_id, "LeaderWorkerSet" if "lws" in recipe_id else "Deployment")[0]
        template = workload["spec"]["leaderWorkerTemplate"]["leaderTemplate"] if "lws" in recipe_id else \
            workload["spec"]["template"]
        probe = template["spec"]["containers"][0]["startupProbe"]
        # kubelet must not restart (LWS: recreate the group) before wait_ready has diagnosed and given up
        assert probe["periodSeconds"] * probe["failureThreshold"] > recipe.timeouts.ready_minutes * 60


def test_dynamo_keeps_the_upstream_values():
    (dgd,) = objects("dynamo-a4x-deepseek-r1-10p8d", "DynamoGraphDeployment")
    services = dgd["spec"]["services"]
    for role in ("Prefill", "Decode"):
        # privileged as upstream, as the image's own user (uid 1000, stated for validation)
        assert services[role]["extraPodSpec"]["mainContainer"]["securityContext"] == {"privileged": True,
                                                                                      "runAsUser": 1000}
    assert services["Prefill"]["livenessProbe"]["exec"]["command"] == ["/bin/sh", "-c", "exit 0"]
    assert "httpGet" in services["Decode"]["livenessProbe"]
    frontend = services["Frontend"]["extraPodSpec"]["mainContainer"]
    assert {"name": "model", "mountPath": "/data/model", "readOnly": True} in frontend["volumeMounts"]
    (cm,) = objects("dynamo-a4x-deepseek-r1-10p8d", "ConfigMap")
    deepep = json.loads(cm["data"]["deepep-config.json"])
    assert deepep["normal_dispatch"]["num_max_rdma_chunked_send_tokens"] == 6
    assert deepep["normal_combine"]["num_max_rdma_chunked_recv_tokens"] == 128


# ---- custom objects against the real CRDs -------------------------------------------------------------


@pytest.mark.parametrize("kind, field", [("DynamoGraphDeployment", ("spec", "services", "Frontend", "replicaz")),
                                         ("ComputeDomain", ("spec", "channel", "allocationMod")),
                                         ("LeaderWorkerSet", ("spec", "leaderWorkerTemplate", "sizee"))])
def test_unknown_fields_of_custom_objects_are_refused(kind, field):
    recipe_id = "sglang-a3mega-deepseek-r1-lws" if kind == "LeaderWorkerSet" else "dynamo-a4x-deepseek-r1-1p1d"
    (obj,) = objects(recipe_id, kind)
    node = obj
    for key in field[:-1]:
        node = node[key]
    node[field[-1]] = 1
    with pytest.raises(ManifestError, match=f"'{field[-1]}' was unexpected"):
        validate_objects([obj])


def test_the_client_job_warms_up_then_runs_each_trial_and_prints_them_apart(tmp_path):
    """The real shell script of a point (vLLM: no warm-up option in v0.9.1, so a pass of its own) run with
    a stand-in for the client: the warm-up pass is not printed as a trial, each trial's files come out
    under its own name, and the collector reads them back."""
    from recipebench.catalog.recipe import load_recipe

    recipe = load_recipe("vllm-a4-deepseek-r1")
    point = recipe.benchmark.points[0]
    results, trials = tmp_path / "results", tmp_path / "trials"
    script = command_lines.client_script(recipe, point, "svc", 8000)
    script = script.replace(command_lines.TRIALS_DIR, str(trials)).replace(command_lines.RESULTS_DIR, str(results))
    for name in ("warmup.log", "stdout.txt"):
        script = script.replace(f"/tmp/{name}", f"{tmp_path}/{name}")
    # the stand-in for the client's python3: writes the prompts it was asked for into result.json,
    # counting its calls
    fake = (f'python3() {{ n=$(( $(cat {tmp_path}/calls 2>/dev/null || echo 0) + 1 )); echo $n > {tmp_path}/calls; '
            'p=$(echo "$@" | sed -E "s/.*--num-prompts ([0-9]+).*/\\1/"); '
            f'echo "{{\\"completed\\": $p, \\"call\\": $n}}" > {results}/result.json; echo "table of call $n"; }}\n')
    printed = subprocess.run(["bash", "-c", fake + script], capture_output=True, text=True, check=True).stdout
    warmup = recipe.benchmark.warmup_for(point)
    assert command_lines.warmup_done(printed) == (warmup, 0) and command_lines.warmup_pass(script) == warmup
    files = command_lines.unframe_outputs(printed)
    assert sorted(files) == [f"t{k}.{n}" for k in (1, 2, 3) for n in ("result.json", "stdout.txt")]
    # call 1 was the warm-up (its prompts: the warm-up's), calls 2-4 the trials with the point's prompts
    assert [json.loads(files[f"t{k}.result.json"]) for k in (1, 2, 3)] == [
        {"completed": point.num_prompts, "call": k + 1} for k in (1, 2, 3)]
    assert files["t2.stdout.txt"] == "table of call 3\n"
