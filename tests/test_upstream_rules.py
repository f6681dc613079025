"""Rules of the real controllers, images and tools that a rendered run must obey (issue 20): each test
states the upstream rule itself (cited), so it fails where the real cluster would refuse or break."""

import json
import time

import pytest
from recipebench.catalog.recipe import load_recipe
from recipebench.cluster.access import target_for
from recipebench.cluster.api import Cluster
from recipebench.cluster.readiness import assess, observe
from recipebench.manifests.errors import ManifestError
from recipebench.manifests.render import example_run, render_workload
from recipebench.manifests.validation import validate_objects

DYNAMO = ["dynamo-a4x-deepseek-r1-1p1d", "dynamo-a4x-deepseek-r1-10p8d"]


def graph(objects):
    return next(o for o in objects if o["kind"] == "DynamoGraphDeployment")


def grove_name_lengths(dgd):
    """Per pod kind, PodCliqueSet + PodCliqueScalingGroup + PodClique name lengths, as Dynamo 0.7.0 names
    them (graph.go GenerateGrovePodCliqueSet) and Grove's webhook adds them (podcliqueset.go,
    validatePodNameConstraints)."""
    pcs, found = dgd["metadata"]["name"], {}
    for service, svc in dgd["spec"]["services"].items():
        s = service.lower()
        if (svc.get("multinode") or {}).get("nodeCount", 1) > 1:
            found[f"{s}-wkr"] = len(pcs) + len(s) + len(f"{s}-wkr")
            found[f"{s}-ldr"] = len(pcs) + len(s) + len(f"{s}-ldr")
        else:
            found[s] = len(pcs) + len(s)
    return found


# -- 1. Grove's 45-character combined name limit -----------------------------------------------------
@pytest.mark.parametrize("recipe_id", DYNAMO)
def test_every_dynamo_pod_name_fits_grove_limit(recipe_id):
    dgd = graph(render_workload(example_run(load_recipe(recipe_id), "r123456789")))
    assert max(grove_name_lengths(dgd).values()) <= 45
    assert dgd["metadata"]["labels"]["recipebench.dev/recipe"] == recipe_id  # the full id stays in the labels


def test_validation_refuses_a_dynamo_name_grove_would_refuse():
    objects = render_workload(example_run(load_recipe("dynamo-a4x-deepseek-r1-10p8d")))
    dgd = graph(objects)
    dgd["metadata"]["name"] = "dynamo-a4x-deepseek-r1-10p8d-r123456789"  # 39: the name today's main rendered
    with pytest.raises(ManifestError, match=r"combined resource name length 57 exceeds 45.*'prefill-wkr'"):
        validate_objects(objects)


def test_simulated_operator_refuses_an_over_long_graph_without_pods(own_sim):
    run = example_run(load_recipe("dynamo-a4x-deepseek-r1-1p1d"), "rlong00001")
    objects = render_workload(run)
    long_name = "dynamo-a4x-deepseek-r1-1p1d-rlong00001"
    dgd = graph(objects)
    dgd["metadata"]["name"] = long_name
    assert max(grove_name_lengths(dgd).values()) > 45
    cluster = Cluster(target_for(run.recipe))
    cluster.apply(objects)
    started, result, ns = time.monotonic(), None, run.recipe.cluster.namespace
    while time.monotonic() - started < 10:
        result = assess(observe(cluster, "disaggregated", ns, long_name, run.run_key), 0, 0, 600, 600)
        if result.state == "failed":
            break
        time.sleep(0.05)
    assert result is not None and result.state == "failed", result
    assert "pcs.validating.webhooks.grove.io" in result.reason and "exceeds 45-character limit" in result.reason
    assert cluster.pods(ns, f"recipebench.dev/run={run.run_key}") == []


# -- 2. the Dynamo images run as a non-root user --------------------------------------------------------
def workers(dgd):
    return {name: svc["extraPodSpec"]["mainContainer"] for name, svc in dgd["spec"]["services"].items()
            if svc["componentType"] == "worker"}


@pytest.mark.parametrize("recipe_id", DYNAMO)
def test_dynamo_workers_run_no_root_only_step(recipe_id):
    """ai-dynamo/dynamo container/Dockerfile.sglang ends with `USER dynamo` (uid 1000): a worker whose
    script runs ldconfig under `set -e` exits 1 at once unless the container asks for uid 0."""
    for name, main in workers(graph(render_workload(example_run(load_recipe(recipe_id))))).items():
        uid = (main.get("securityContext") or {}).get("runAsUser", 1000)
        script = "\n".join(main["args"])
        assert uid == 0 or not any(ln.strip().startswith("ldconfig") for ln in script.splitlines()), name
        assert uid == 1000  # the manifest states the image's user


def test_validation_refuses_ldconfig_as_the_image_user():
    objects = render_workload(example_run(load_recipe("dynamo-a4x-deepseek-r1-1p1d")))
    workers(graph(objects))["Decode"]["args"][0] = "set -e\nldconfig\nexec python3 -m dynamo.sglang"
    with pytest.raises(ManifestError, match=r"spec\.services\.Decode.* runs ldconfig, which needs root, as uid 1000"):
        validate_objects(objects)


def test_validation_lets_root_images_run_ldconfig():
    objects = render_workload(example_run(load_recipe("sglang-a3ultra-deepseek-r1")))
    assert any("ldconfig" in "\n".join(c["command"]) for o in objects if o["kind"] == "Deployment"
               for c in o["spec"]["template"]["spec"]["containers"])  # the gIB profile's step, as root
    validate_objects(objects)


def test_simulated_dynamo_image_crash_loops_on_ldconfig(own_sim):
    run = example_run(load_recipe("dynamo-a4x-deepseek-r1-1p1d"), "rroot00001")
    objects = render_workload(run)
    for main in workers(graph(objects)).values():
        main.pop("securityContext", None)  # the simulator knows the image's user, as the kubelet does
        main["args"][0] = main["args"][0].replace("set -e\n", "set -e\nldconfig\n", 1)
    cluster = Cluster(target_for(run.recipe))
    cluster.apply(objects)
    started, result, ns = time.monotonic(), None, run.recipe.cluster.namespace
    while time.monotonic() - started < 20:
        result = assess(observe(cluster, "disaggregated", ns, run.name, run.run_key), 0, 0, 600, 600)
        if result.state == "failed":
            break
        time.sleep(0.05)
    assert result is not None and result.state == "failed", result
    assert result.reason.startswith("crash loop")
    assert any("ld.so.cache~: Permission denied" in line for line in result.evidence), result.evidence


# -- 3. the 10p8d load is the seed's multi-node one ------------------------------------------------------
def test_10p8d_measures_the_seeds_multi_node_load_on_its_endpoint():
    """gpu-recipes' multi-node command: sglang.bench_serving --backend sglang-oai-chat (async_request_openai_
    chat_completions) --num-prompts 10240 --max-concurrency 2048."""
    from recipebench.manifests.render import render_bench_job
    from recipebench.results.rows import result_row

    recipe = load_recipe("dynamo-a4x-deepseek-r1-10p8d")
    run = example_run(recipe)
    first = recipe.benchmark.points[0]
    container = render_bench_job(run, first, 0)["spec"]["template"]["spec"]["containers"][0]
    argv = " ".join([*container.get("command", []), *container.get("args", [])])
    assert "--endpoint-type chat" in argv and "--concurrency 2048" in argv and "--request-count 10240" in argv
    assert result_row(run, first, {"record": {"output_throughput": 1.0}, "artifact": "a"}, True)["endpoint"] == "chat"
    # clients without the choice say where they sent: SGLang's native /generate, vLLM's /v1/completions
    for recipe_id, endpoint in (("sglang-a3ultra-deepseek-r1", "generate"), ("vllm-a4-deepseek-r1", "completions"),
                                ("trtllm-a4x-deepseek-r1-nvfp4", None)):
        other = load_recipe(recipe_id)
        row = result_row(example_run(other), other.benchmark.points[0], {"record": {"output_throughput": 1.0},
                                                                         "artifact": "a"}, True)
        assert row["endpoint"] == endpoint, recipe_id


# -- 4. NCCL as each upstream chart sets it up -------------------------------------------------------
def server_script(recipe_id):
    objects = render_workload(example_run(load_recipe(recipe_id)))
    for o in objects:
        if o["kind"] == "DynamoGraphDeployment":
            return workers(o)["Decode"]["args"][0]
        spec = (o.get("spec") or {}).get("template", {}).get("spec") or \
            ((o.get("spec") or {}).get("leaderWorkerTemplate") or {}).get("leaderTemplate", {}).get("spec")
        if spec:
            c = spec["containers"][0]
            return "\n".join([*c.get("command", []), *c.get("args", [])])
    raise AssertionError(recipe_id)


def library_path(script):
    line = next(ln for ln in script.splitlines() if ln.startswith("export LD_LIBRARY_PATH="))
    return line.split("=", 1)[1].split("${")[0].split(":")


# (sources gIB's set_nccl_env.sh, folders first on LD_LIBRARY_PATH), as upstream's chart and launcher do:
UPSTREAM_NCCL = {
    # a3ultra deployment template: `source ${NCCL_INIT_SCRIPT}; ldconfig`, env gib:nvidia
    "sglang-a3ultra-deepseek-r1": (True, ["/usr/local/gib/lib64", "/usr/local/nvidia/lib64"]),
    # a4x deployment template: NCCL_INIT_SCRIPT set, never sourced; env gib:nvidia
    "trtllm-a4x-deepseek-r1-nvfp4": (False, ["/usr/local/gib/lib64", "/usr/local/nvidia/lib64"]),
    # a4 deployment template sources it; the recipe's workload.envs LD_LIBRARY_PATH wins over the chart's
    "vllm-a4-deepseek-r1": (True, ["/usr/local/nvidia/lib64", "/usr/local/lib"]),
    # a4x dynamo-deployment worker: sources it; its LD_LIBRARY_PATH is UCX, NIXL and the driver
    "dynamo-a4x-deepseek-r1-1p1d": (True, ["/usr/local/ucx/lib", "/usr/local/ucx/lib/ucx"]),
}


@pytest.mark.parametrize("recipe_id", sorted(UPSTREAM_NCCL))
def test_nccl_set_up_as_upstream(recipe_id):
    sources, first = UPSTREAM_NCCL[recipe_id]
    script = server_script(recipe_id)
    assert ("source /usr/local/gib/scripts/set_nccl_env.sh" in script) == sources
    assert library_path(script)[:len(first)] == first
    assert ("/usr/local/gib/lib64" in library_path(script)) == (first[0] == "/usr/local/gib/lib64")


# -- 5. what the cluster operator must grant -------------------------------------------------------------
def test_the_shipped_rbac_grants_every_permission_a_run_checks():
    """include/rbac/ evaluated by RBAC's rule matching (sim.rbac, after rbac.go RuleAllows)."""
    from recipebench.catalog.recipe import load_catalog
    from recipebench.cluster.permissions import install_permissions, run_permissions
    from recipebench.cluster.platform import required_charts
    from recipebench.sim import rbac

    recipes, _ = load_catalog()
    for recipe in recipes.values():
        run = example_run(recipe)
        wanted = run_permissions(run) + [p for c in required_charts(run) for p in install_permissions(c.namespace)]
        for p in wanted:
            a = p.attributes()
            req = rbac.Request(a["verb"], a["group"], a["resource"] + (f"/{a['subresource']}" if "subresource" in a
                                                                       else ""), p.namespace, p.name or None)
            assert rbac.allowed(req, "rbac-shipped"), (recipe.id, str(p))
    # and the readiness path needs the proxy
    assert any(p.resource == "services/proxy" for p in run_permissions(example_run(load_recipe("vllm-a4-deepseek-r1"))))


def test_the_simulated_api_server_enforces_rbac(own_sim, monkeypatch):
    from recipebench.cluster.permissions import Permission

    cluster = Cluster(target_for(load_recipe("vllm-a4-deepseek-r1")))
    proxy = Permission("get", "services/proxy", "", "default").attributes()
    assert cluster.allowed(proxy)  # cluster-admin by default
    monkeypatch.setenv("RECIPEBENCH_SIM_SCENARIO", "rbac-missing-proxy")
    assert not cluster.allowed(proxy)
    assert cluster.allowed(Permission("get", "pods/log", "", "default").attributes())
    assert not cluster.allowed(Permission("delete", "nodes").attributes())  # nothing grants it
    status, body = cluster.service_request("default", "anything", 8000, "GET", "/v1/models")
    assert status == 403 and 'cannot get resource "services/proxy" in API group "" in the namespace "default"' in \
        json.loads(body)["message"]


def test_missing_proxy_permission_fails_the_run_in_seconds_before_any_gpu(cluster_env, own_sim, monkeypatch):
    from tests.conftest import run, runs_row

    monkeypatch.setenv("RECIPEBENCH_SIM_SCENARIO", "rbac-missing-proxy")
    started = time.monotonic()
    result = run("vllm-a4-deepseek-r1")
    took = time.monotonic() - started
    assert result["status"] == "failed" and result["failed_stage"] == "ensure_platform", result
    assert ("recipebench cannot get services/proxy in namespace default, create services/proxy in namespace "
            "default: grant include/rbac/role.yaml in that namespace") in result["reason"]
    assert runs_row(result["run_id"])["failed_stage"] == "ensure_platform"
    monkeypatch.delenv("RECIPEBENCH_SIM_SCENARIO")
    assert Cluster(target_for(load_recipe("vllm-a4-deepseek-r1"))).list_labelled(
        f"recipebench.dev/run={result['run_id']}") == [] and result["leftover_objects"] == []
    assert took < 60, took


# -- 7. no Hub downloads at point start -------------------------------------------------------------------
SERVING = ["sglang-a3ultra-deepseek-r1", "sglang-a3mega-deepseek-r1-lws", "vllm-a4-deepseek-r1",
           "dynamo-a4x-deepseek-r1-1p1d"]


def jobs_of(recipe_id, component):
    from recipebench.manifests.render import render_all

    return [o for o in render_all(example_run(load_recipe(recipe_id))) if o["kind"] == "Job"
            and o["spec"]["template"]["metadata"]["labels"]["recipebench.dev/component"] == component]


def script_of(job):
    return job["spec"]["template"]["spec"]["containers"][0]["command"][2]


def mounted(job, path):
    spec = job["spec"]["template"]["spec"]
    (m,) = [m for m in spec["containers"][0]["volumeMounts"] if m["mountPath"] == path]
    (v,) = [v for v in spec["volumes"] if v["name"] == m["name"]]
    return m, v


@pytest.mark.parametrize("recipe_id", SERVING)
def test_clients_read_a_staged_tokenizer_and_dataset(recipe_id):
    """Every client loads its tokenizer with transformers' from_pretrained (a model id is fetched from
    the Hub); sglang.bench_serving's random dataset downloads ShareGPT when no --dataset-path is given
    (bench_serving.py, sample_random_requests / download_and_cache_file). Each must read files the
    run staged once, from the bucket mounted read-only."""
    import shlex

    (stage,) = jobs_of(recipe_id, "stage-data")
    staging = script_of(stage)
    for job in jobs_of(recipe_id, "bench"):
        argv = shlex.split(script_of(job))
        tokenizer = argv[argv.index("--tokenizer") + 1]
        assert tokenizer.startswith("/client-data/tokenizers/") and f"--local-dir {tokenizer}.partial" in staging
        if "sglang.bench_serving" in argv:
            dataset = argv[argv.index("--dataset-path") + 1]
            assert dataset.startswith("/client-data/datasets/") and f"{dataset}.partial" in staging
        mount, volume = mounted(job, "/client-data")
        assert mount["readOnly"] and volume["csi"]["readOnly"]
    mount, volume = mounted(stage, "/client-data")
    assert not mount["readOnly"]
    assert volume["csi"]["volumeAttributes"] == mounted(jobs_of(recipe_id, "bench")[0], "/client-data")[1][
        "csi"]["volumeAttributes"]  # the same bucket folder


def test_validation_refuses_a_client_that_would_download():
    (job,) = jobs_of("sglang-a3ultra-deepseek-r1", "bench")
    container = job["spec"]["template"]["spec"]["containers"][0]
    container["command"][2] = container["command"][2].replace(
        "--tokenizer /client-data/tokenizers/deepseek-ai/DeepSeek-R1", "--tokenizer deepseek-ai/DeepSeek-R1")
    with pytest.raises(ManifestError, match=r"would download the tokenizer deepseek-ai/DeepSeek-R1 from the Hugging"):
        validate_objects([job])
    container["command"][2] = container["command"][2].replace("--dataset-path", "--no-such-flag")
    with pytest.raises(ManifestError, match=r"ShareGPT for --dataset-name random \(no --dataset-path\)"):
        validate_objects([job])


def test_trtllm_prepares_its_datasets_with_the_tokenizer_it_downloaded():
    from recipebench.manifests.render import render_workload

    (job,) = [o for o in render_workload(example_run(load_recipe("trtllm-a4x-deepseek-r1-nvfp4"))) if o["kind"] == "Job"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    script = "\n".join([*container["command"], *container.get("args", [])])
    assert "--tokenizer=/ssd/nvidia/DeepSeek-R1-NVFP4-v2" in script and "--tokenizer=nvidia/" not in script


# -- 8. a bucket is mounted only where it is read -------------------------------------------------------------
@pytest.mark.parametrize("recipe_id", ["sglang-a3ultra-deepseek-r1", "sglang-a3mega-deepseek-r1-lws",
                                       "vllm-a4-deepseek-r1", "trtllm-a4x-deepseek-r1-nvfp4",
                                       "dynamo-a4x-deepseek-r1-1p1d"])
def test_servers_mount_a_bucket_only_to_read_their_weights(recipe_id):
    """A GCS FUSE volume makes the pod's start depend on Workload Identity and the bucket's IAM
    (the gcsfuse sidecar fails the pod otherwise): only a server that reads its weights there has one."""
    from recipebench.manifests.render import render_workload

    recipe = load_recipe(recipe_id)
    for obj in render_workload(example_run(recipe)):
        spec = obj.get("spec") or {}
        pods = [spec["template"]["spec"]] if "template" in spec else []
        lwt = spec.get("leaderWorkerTemplate") or {}
        pods += [lwt[k]["spec"] for k in ("leaderTemplate", "workerTemplate") if k in lwt]
        pods += [(svc.get("extraPodSpec") or {}) for svc in (spec.get("services") or {}).values()]
        for pod in pods:
            fuse = [v for v in pod.get("volumes") or [] if (v.get("csi") or {}).get("driver") == "gcsfuse.csi.storage.gke.io"]
            if recipe.model.source == "gcs":
                assert fuse and all(v["csi"].get("readOnly") for v in fuse), obj["kind"]
            else:
                assert fuse == [], (obj["kind"], fuse)


# -- 9b. all Dynamo workers inside one NVL72 domain ----------------------------------------------------------
def test_a_graph_larger_than_one_nvlink_domain_is_refused():
    """IMEX channels (NVIDIA's DRA driver, ComputeDomain) join nodes of one NVLink domain only: an A4X rack
    is 18 nodes. The 10p8d recipe fills one exactly; one more prefill node does not fit."""
    from recipebench.catalog.recipe import RecipeError, deep_merge, resolve

    base = load_recipe("dynamo-a4x-deepseek-r1-10p8d")
    assert base.topology.total_nodes == base.acc.nvlink_domain_nodes == 18
    raw = deep_merge(base.model_dump(mode="json", exclude={"id"}), {"topology": {"prefill": {"replicas": 6}}})
    with pytest.raises(RecipeError, match=r"20 nodes do not fit one NVLink domain of a4x \(18 nodes\)"):
        resolve(base.id, raw, "test")
