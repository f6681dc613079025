"""Rendered Kubernetes objects: reviewed snapshots, invariants, and errors that name object and field.

Snapshots live in tests/snapshots/<recipe>.yaml; after a deliberate change, regenerate them with
UPDATE_SNAPSHOTS=1 and review the diff.
"""

import os
import re

import pytest
import yaml
from recipebench.catalog.recipe import deep_merge, load_catalog, load_recipe, resolve
from recipebench.manifests.errors import ManifestError
from recipebench.manifests.render import _env, example_run, render_all, render_workload, to_yaml_stream
from recipebench.manifests.validation import (
    FRAMEWORK_CONTAINERS,
    REQUIRED_LABELS,
    check_invariants,
    pod_templates,
    validate_objects,
)

from tests.conftest import REPO

SNAPSHOTS = REPO / "tests" / "snapshots"
RECIPES = sorted(load_catalog()[0])


def rendered(recipe_id):
    return render_all(example_run(load_recipe(recipe_id)))


def test_every_crd_the_validation_reads_is_in_the_project():
    from recipebench.manifests.validation import CRDS

    for name in CRDS.values():
        assert (REPO / "include" / "schemas" / "crds" / name).exists(), name
        assert name in (REPO / "include" / "schemas" / "SOURCES.md").read_text(), f"{name} has no source"


@pytest.mark.parametrize("recipe_id", RECIPES)
def test_renders_validates_and_matches_snapshot(recipe_id):
    objects = rendered(recipe_id)
    validate_objects(objects)
    text = to_yaml_stream(objects)
    snap = SNAPSHOTS / f"{recipe_id}.yaml"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        snap.parent.mkdir(exist_ok=True)
        snap.write_text(text)
    assert snap.exists(), f"no snapshot for {recipe_id}: run with UPDATE_SNAPSHOTS=1 and review it"
    assert text == snap.read_text(), f"{recipe_id} renders differently from its reviewed snapshot"


def containers(obj):
    """The containers running the recipe's image (not the network profile's init and sidecar containers)."""
    for _, _, found in pod_templates(obj):
        yield from (c for c in found if c.get("name", "main") in FRAMEWORK_CONTAINERS)


@pytest.mark.parametrize("recipe_id", RECIPES)
def test_invariants(recipe_id):
    recipe = load_recipe(recipe_id)
    objects = rendered(recipe_id)
    gpus = recipe.acc.gpus_per_node
    for obj in objects:
        assert all(k in obj["metadata"]["labels"] for k in REQUIRED_LABELS), obj["metadata"]["name"]
        assert len(obj["metadata"]["name"]) <= 63
        for path, labels, _ in pod_templates(obj):
            assert all(k in labels for k in REQUIRED_LABELS), f"{obj['metadata']['name']} {path}"
        assert not re.search(r"hf_[A-Za-z0-9]{20,}|nvapi-", yaml.safe_dump(obj)), "a token-like value is inline"
        assert obj["kind"] != "Secret"
    gpu_workloads = [o for o in objects if o["kind"] in ("Deployment", "LeaderWorkerSet")
                     or (o["kind"] == "Job" and o["metadata"]["labels"].get("recipebench.dev/point") is None)]
    for obj in gpu_workloads:
        for c in containers(obj):
            assert c["resources"]["limits"]["nvidia.com/gpu"] == gpus, f"{obj['kind']} container {c['name']}"
            assert c["resources"]["requests"]["nvidia.com/gpu"] == gpus
            (hf,) = [e for e in c["env"] if e["name"] == "HF_TOKEN"]
            assert "value" not in hf and hf["valueFrom"]["secretKeyRef"]["key"] == "HF_TOKEN"
    for obj in objects:
        if obj["kind"] == "DynamoGraphDeployment":
            for role in ("Prefill", "Decode"):
                svc = obj["spec"]["services"][role]
                assert svc["resources"]["limits"]["gpu"] == str(gpus)
                main = svc["extraPodSpec"]["mainContainer"]
                assert "readinessProbe" in svc and " --host 0.0.0.0 " in main["args"][0]
    assert gpu_workloads or recipe.topology.shape == "disaggregated"


@pytest.mark.parametrize("recipe_id", [r for r in RECIPES if r.startswith(("sglang", "vllm"))])
def test_servers_bind_all_interfaces_and_have_readiness(recipe_id):
    server = [o for o in rendered(recipe_id) if o["kind"] in ("Deployment", "LeaderWorkerSet")][0]
    if server["kind"] == "Deployment":
        serving = server["spec"]["template"]["spec"]["containers"][0]
    else:
        serving = server["spec"]["leaderWorkerTemplate"]["leaderTemplate"]["spec"]["containers"][0]
        worker = server["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"]["containers"][0]
        assert "readinessProbe" not in worker and server["spec"]["leaderWorkerTemplate"]["size"] == 2
        assert "$(LWS_LEADER_ADDRESS):6002" in serving["args"]
    args = serving["args"]
    assert args[args.index("--host") + 1] == "0.0.0.0"
    assert serving["readinessProbe"]["httpGet"]["path"] == "/health"
    # a 30-minute download must fit the startup probe
    probe = serving["startupProbe"]
    assert probe["periodSeconds"] * probe["failureThreshold"] >= 30 * 60
    assert {"name": "shm", "mountPath": "/dev/shm"} in serving["volumeMounts"]
    assert {"name": "HF_HOME", "value": "/ssd"} in serving["env"]


def test_offline_recipe_is_a_job_that_never_retries():
    objects = rendered("trtllm-a4x-deepseek-r1-nvfp4")
    (job,) = [o for o in objects if o["kind"] == "Job"]
    assert job["spec"]["backoffLimit"] == 0 and job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert not [o for o in objects if o["kind"] == "Deployment"]
    script = job["spec"]["template"]["spec"]["containers"][0]["args"][2]
    for k in (1, 2, 3):  # a report per trial
        assert f"--report_json /results/t{k}.i1024-o4096-cmax-rinf-n1000.json" in script
    assert "--extra_llm_api_options /workload/configs/extra-llm-api-options.json" in script
    (cm,) = [o for o in objects if o["kind"] == "ConfigMap"]
    assert yaml.safe_load(cm["data"]["extra-llm-api-options.json"])["moe_config"] == {"backend": "CUTLASS"}


def test_disaggregated_names_are_unique_per_run():
    recipe = load_recipe("dynamo-a4x-deepseek-r1-1p1d")
    a, b = render_workload(example_run(recipe, "raaaaaaaaa")), render_workload(example_run(recipe, "rbbbbbbbbb"))
    names = lambda objs: {(o["kind"], o["metadata"]["name"]) for o in objs}  # noqa: E731
    assert not names(a) & names(b)
    (domain,) = [o for o in a if o["kind"] == "ComputeDomain"]
    assert domain["spec"]["numNodes"] == 2 and "raaaaaaaaa" in domain["spec"]["channel"]["resourceClaimTemplate"]["name"]


def test_bench_jobs_use_the_framework_client_and_save_machine_readable_output():
    # and the per-request records goodput is computed from (results.slo)
    for recipe_id, needle in [("sglang-a3ultra-deepseek-r1", "--output-file /results/result.jsonl --output-details"),
                              ("vllm-a4-deepseek-r1", "--save-result --save-detailed --result-dir /results"),
                              ("dynamo-a4x-deepseek-r1-1p1d", "--export-level records")]:
        (job,) = [o for o in rendered(recipe_id) if o["kind"] == "Job"
                  and o["spec"]["template"]["metadata"]["labels"]["recipebench.dev/component"] == "bench"]
        script = job["spec"]["template"]["spec"]["containers"][0]["command"][2]
        assert needle in script and "=== recipebench output begin" in script
        assert job["spec"]["backoffLimit"] == 0
        assert "nvidia.com/gpu" not in str(job["spec"]["template"]["spec"]["containers"][0]["resources"])


def test_broken_template_names_object_and_field(monkeypatch):
    env = _env()
    source = env.loader.get_source(env, "single-host.yaml.j2")[0].replace("replicas: 1", 'replicas: "two"')
    monkeypatch.setattr(env.loader, "get_source", lambda e, name, real=env.loader.get_source: (
        (source, None, lambda: False) if name == "single-host.yaml.j2" else real(e, name)))
    env.cache.clear() if env.cache else None
    with pytest.raises(ManifestError, match=r"Deployment/vllm-a4-deepseek-r1-r000000000: field spec.replicas"):
        validate_objects(render_workload(example_run(load_recipe("vllm-a4-deepseek-r1"))))
    env.cache.clear() if env.cache else None


def test_undefined_template_variable_is_an_error(monkeypatch):
    env = _env()
    monkeypatch.setattr(env.loader, "get_source", lambda e, name: ("x: {{ nope }}", None, lambda: False))
    env.cache.clear() if env.cache else None
    with pytest.raises(ManifestError, match="'nope' is undefined"):
        render_workload(example_run(load_recipe("vllm-a4-deepseek-r1")))
    env.cache.clear() if env.cache else None


def test_broken_recipe_value_names_object_and_field():
    recipe = load_recipe("dynamo-a4x-deepseek-r1-1p1d")
    broken = resolve(recipe.id, deep_merge(recipe.model_dump(mode="json", exclude={"id"}), {"image": {"frontend": None}}), "t")
    with pytest.raises(ManifestError, match=r"DynamoGraphDeployment/\S+: field spec.services.Frontend.extraPodSpec.mainContainer.image"):
        validate_objects(render_all(example_run(broken)))


def test_inline_secret_is_refused():
    job = rendered("vllm-a4-deepseek-r1")[-1]
    job["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "HF_TOKEN", "value": "hf_abc"}]
    with pytest.raises(ManifestError, match="HF_TOKEN carries a value inline"):
        check_invariants(job)


def test_missing_label_is_refused():
    dep = rendered("vllm-a4-deepseek-r1")[1]
    del dep["spec"]["template"]["metadata"]["labels"]["recipebench.dev/expires"]
    with pytest.raises(ManifestError, match="spec.template.metadata.labels: missing label"):
        check_invariants(dep)
