"""Cloud Build requests, the build-or-skip decision, and platform installs against the simulated cluster."""

import json
import logging
import subprocess
import sys

import pytest
from google.cloud.devtools.cloudbuild_v1.types import Build
from recipebench.catalog.recipe import load_recipe
from recipebench.cluster.access import target_for
from recipebench.cluster.api import Cluster
from recipebench.cluster.images import build_request, decide, digest_from_build
from recipebench.cluster.platform import (
    DYNAMO_CRDS,
    DYNAMO_PLATFORM,
    LWS,
    PlatformError,
    encode_release,
    ensure_platform,
    helm_error,
    installed_version,
    release_version,
)
from recipebench.manifests.render import example_run
from recipebench.sim import SimCluster

from tests.conftest import REPO

log = logging.getLogger("test")


@pytest.mark.parametrize("recipe_id, build_arg", [
    ("sglang-a3ultra-deepseek-r1", "SGLANG_VERSION=v0.4.6.post4-cu124"),
    ("sglang-a3mega-deepseek-r1-lws", "SGLANG_VERSION=v0.4.3.post2-cu125-srt"),
    ("vllm-a4-deepseek-r1", "VLLM_VERSION=v0.9.1"),
])
def test_build_requests_parse_as_cloud_build_builds(recipe_id, build_arg):
    recipe = load_recipe(recipe_id)
    build = Build(build_request(recipe))  # what the operator hands to Cloud Build
    assert build.options.machine_type.name == "E2_HIGHCPU_32"
    assert build.options.disk_size_gb == 1000 and build.timeout.total_seconds() == 7200
    args = [a for step in build.steps for a in step.args]
    assert build_arg in args, "the recipe's substitutions are filled in"
    assert list(build.images) == [recipe.image_ref()]
    assert not any("${_" in a for a in args + list(build.images)), "no user substitution left for Cloud Build"


def test_dynamo_builds_its_client_image_and_uses_ngc_for_the_server():
    """The Dynamo runtime comes prebuilt from NGC; the AIPerf client runs from a small image of its own,
    which is built (amd64, pinned version) when the registry does not have it."""
    recipe = load_recipe("dynamo-a4x-deepseek-r1-1p1d")
    assert recipe.image_ref() == "nvcr.io/nvidia/ai-dynamo/sglang-runtime:0.7.0"
    decision = decide(recipe, "cloudbuild", {})
    assert decision["action"] == "build" and decision["roles"] == ["client"]
    assert "prebuilt image nvcr.io/nvidia/ai-dynamo/sglang-runtime:0.7.0" in decision["reason"]
    build = Build(build_request(recipe, ["client"]))
    client = f"{recipe.cluster.artifact_registry}/aiperf-client:0.13.0"
    assert list(build.images) == [client] and build.options.machine_type.name == "E2_HIGHCPU_8"
    assert any("aiperf==0.13.0" in a for s in build.steps for a in s.args)
    assert [s.id for s in build.steps] == ["client-dockerfile", "client-build"]
    assert decide(recipe, "cloudbuild", {"client": "sha256:c1"})["action"] == "skip"


def test_a_custom_dynamo_runtime_is_built_with_upstreams_build_script_for_arm64():
    """ai-dynamo/dynamo container/Dockerfile.sglang starts FROM build.sh's first-stage image and defaults to
    amd64 packages; build.sh --platform linux/arm64 passes ARCH=arm64/ARCH_ALT=aarch64 (container/build.sh)."""
    from recipebench.catalog.recipe import deep_merge, resolve

    base = load_recipe("dynamo-a4x-deepseek-r1-1p1d")
    custom = resolve(base.id, deep_merge(base.model_dump(mode="json", exclude={"id"}),
                                         {"image": {"build": "dynamo-sglang", "repository": "dynamo-sglang"}}), "t")
    build = Build(build_request(custom))
    script = " ".join(a for s in build.steps for a in s.args)
    assert "bash container/build.sh --framework sglang --platform linux/arm64 --target runtime" in script
    assert "docker build" not in script and "Dockerfile.sglang" not in script
    assert "--branch v0.7.0" in script and build.timeout.total_seconds() == 43200 + 1800  # server, then client
    assert [s.id.split("-")[0] for s in build.steps] == ["server"] * 3 + ["client"] * 2


def test_prebuilt_images_build_nothing():
    recipe = load_recipe("trtllm-a4x-deepseek-r1-nvfp4")
    assert build_request(recipe) is None
    decision = decide(recipe, "cloudbuild", {})
    assert decision["action"] == "skip" and "prebuilt image nvcr.io/nvidia/tensorrt-llm/release:1.3.0rc5" in \
        decision["reason"]


def test_existing_tag_is_reused_with_its_digest():
    recipe = load_recipe("vllm-a4-deepseek-r1")
    decision = decide(recipe, "cloudbuild", {"server": "sha256:abc"})
    assert (decision["action"], decision["digests"]) == ("skip", {"server": "sha256:abc"})
    assert decision["reason"] == f"{recipe.image_ref()} already exists in Artifact Registry (sha256:abc): not rebuilt"
    assert decide(recipe, "cloudbuild", {})["action"] == "build"
    assert decide(recipe, "assume-present", {})["digests"] == {"server": None}


def test_digest_pins_the_manifests():
    from recipebench.manifests.render import render_workload

    recipe = load_recipe("vllm-a4-deepseek-r1")
    image = recipe.image_ref()
    result = {"results": {"images": [{"name": image, "digest": "sha256:0123"}]}}
    digest = digest_from_build(result, image)
    assert digest == "sha256:0123"
    dep = [o for o in render_workload(example_run(recipe), {"server": digest}) if o["kind"] == "Deployment"][0]
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"].endswith("/vllm-openai@sha256:0123")


def test_build_spec_cli():
    out = subprocess.run([sys.executable, "-m", "recipebench", "build-spec", "sglang-a3ultra-deepseek-r1"], cwd=REPO,
                         capture_output=True, text=True)
    assert out.returncode == 0 and list(Build(json.loads(out.stdout)).images) == [
        load_recipe("sglang-a3ultra-deepseek-r1").image_ref()]
    none = subprocess.run([sys.executable, "-m", "recipebench", "build-spec", "trtllm-a4x-deepseek-r1-nvfp4"],
                          cwd=REPO, capture_output=True, text=True)
    assert none.returncode == 2 and "prebuilt image" in none.stderr


def test_release_records_round_trip_and_helm_errors():
    secret = {"data": {"release": encode_release("lws", "0.9.0")}}
    assert release_version(secret) == "0.9.0" and release_version({"data": {"release": "garbage"}}) is None
    assert helm_error("Release x\nError: INSTALLATION FAILED: boom\n") == "Error: INSTALLATION FAILED: boom"


@pytest.fixture
def cluster(monkeypatch):
    monkeypatch.delenv("RECIPEBENCH_SIM_SCENARIO", raising=False)
    monkeypatch.setenv("AIRFLOW_CONN_NGC_DEFAULT", json.dumps({"conn_type": "generic", "password": "nvapi-x"}))
    sim = SimCluster().start()
    monkeypatch.setenv("RECIPEBENCH_CLUSTER", sim.kubeconfig)
    yield sim, Cluster(target_for(load_recipe("vllm-a4-deepseek-r1")))
    sim.stop()


class Spy(Cluster):
    """The real cluster client, remembering what it applied."""

    def __init__(self, target):
        super().__init__(target)
        self.applied = []

    def apply(self, objects):
        self.applied += objects
        return super().apply(objects)


def test_missing_platform_is_installed_by_a_helm_job_then_skipped(cluster):
    sim, plain = cluster
    run = example_run(load_recipe("sglang-a3mega-deepseek-r1-lws"))
    spy = Spy(plain.target)
    first = ensure_platform(run, spy, plain.target.to_dict(), log)
    assert first["charts"] == {"lws": "installed"}
    (job,) = [o for o in spy.applied if o["kind"] == "Job"]
    script = job["spec"]["template"]["spec"]["containers"][0]["command"][2]
    assert "helm upgrade --install lws oci://registry.k8s.io/lws/charts/lws --version 0.9.0 --namespace lws-system" \
        in script and "--wait --atomic" in script
    assert job["metadata"]["namespace"] == "lws-system"
    assert installed_version(plain, LWS) == "0.9.0"
    again = Spy(plain.target)
    assert ensure_platform(run, again, plain.target.to_dict(), log)["charts"] == {"lws": "present"}
    assert not [o for o in again.applied if o["kind"] == "Job"], "a matching version is not reinstalled"


def _kubectl_applied_lws(plain, version):
    """LWS installed from its release manifests (kubectl apply): the CRD and the controller Deployment,
    without helm's ownership labels and without a helm release record."""
    plain.apply([{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                  "metadata": {"name": "leaderworkersets.leaderworkerset.x-k8s.io"}, "spec": {}},
                 {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "lws-controller-manager", "namespace": "lws-system"},
                  "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "lws"}}, "template": {
                      "metadata": {"labels": {"app": "lws"}},
                      "spec": {"containers": [{"name": "manager", "image": f"registry.k8s.io/lws/lws:v{version}"}]}}}}])


def test_a_controller_installed_without_helm_at_the_pinned_version_is_used(cluster):
    """helm upgrade --install over objects helm did not create fails (pkg/action/validate.go, checkOwnership:
    invalid ownership metadata): an LWS applied with kubectl at 0.9.0 is used as it is."""
    sim, plain = cluster
    _kubectl_applied_lws(plain, "0.9.0")
    run = example_run(load_recipe("sglang-a3mega-deepseek-r1-lws"))
    spy = Spy(plain.target)
    assert ensure_platform(run, spy, plain.target.to_dict(), log)["charts"] == {"lws": "present"}
    assert not [o for o in spy.applied if o["kind"] == "Job"]


def test_a_controller_installed_without_helm_at_another_version_names_both(cluster):
    sim, plain = cluster
    _kubectl_applied_lws(plain, "0.8.0")
    run = example_run(load_recipe("sglang-a3mega-deepseek-r1-lws"))
    with pytest.raises(PlatformError, match=r"lws 0\.8\.0 is installed without helm \(Deployment lws-system/"
                                            r"lws-controller-manager .*recipebench pins 0\.9\.0"):
        ensure_platform(run, plain, plain.target.to_dict(), log)


def test_simulated_helm_refuses_to_adopt_what_it_did_not_create(cluster):
    """What today's main met: the helm Job fails on ownership metadata."""
    from recipebench.cluster.platform import install

    sim, plain = cluster
    _kubectl_applied_lws(plain, "0.9.0")
    run = example_run(load_recipe("sglang-a3mega-deepseek-r1-lws"))
    with pytest.raises(PlatformError, match="cannot be imported into the current release: invalid ownership metadata"):
        install(run, plain, LWS, log)


def test_dynamo_platform_values_and_ngc_credentials(cluster):
    sim, plain = cluster
    run = example_run(load_recipe("dynamo-a4x-deepseek-r1-1p1d"))
    spy = Spy(plain.target)
    result = ensure_platform(run, spy, plain.target.to_dict(), log)
    assert result["charts"] == {"dynamo-crds": "installed", "dynamo-platform": "installed"}
    jobs = {o["metadata"]["labels"]["recipebench.dev/release"]: o for o in spy.applied if o["kind"] == "Job"}
    platform = jobs["dynamo-platform"]["spec"]["template"]["spec"]["containers"][0]
    assert "--set grove.enabled=true --set kai-scheduler.enabled=true" in platform["command"][2]
    assert f"{DYNAMO_PLATFORM.chart}" in platform["command"][2] and "--namespace dynamo-cloud" in platform["command"][2]
    (env,) = platform["env"]
    assert env["name"] == "NGC_API_KEY" and "valueFrom" in env and "nvapi-x" not in json.dumps(jobs)
    assert installed_version(plain, DYNAMO_CRDS) == "0.7.0"
    assert any("NOT checked" in n for n in result["notes"])  # the simulator has no GCS


def test_a_failing_helm_job_fails_with_helms_error_line(cluster, monkeypatch):
    sim, plain = cluster
    monkeypatch.setenv("RECIPEBENCH_SIM_SCENARIO", "helm-failure")
    run = example_run(load_recipe("sglang-a3mega-deepseek-r1-lws"))
    with pytest.raises(PlatformError) as err:
        ensure_platform(run, plain, plain.target.to_dict(), log)
    assert str(err.value) == ("helm install of lws 0.9.0 failed: Error: INSTALLATION FAILED: failed pre-install: "
                              "timed out waiting for the condition (chart lws-0.9.0)")


def test_missing_prerequisites_are_named_with_how_to_install(cluster):
    from recipebench.sim.server import BY_PLURAL

    sim, plain = cluster
    sim.store.delete(BY_PLURAL[("storage.k8s.io", "csidrivers")], "", "gcsfuse.csi.storage.gke.io")
    sim.store.delete(BY_PLURAL[("apiextensions.k8s.io", "customresourcedefinitions")], "", "jobsets.jobset.x-k8s.io")
    run = example_run(load_recipe("sglang-a3ultra-deepseek-r1"))
    with pytest.raises(PlatformError) as err:
        ensure_platform(run, plain, plain.target.to_dict(), log)
    assert "JobSet is not installed" in str(err.value) and "GcsFuseCsiDriver=ENABLED" in str(err.value)
