"""Rules of the real controllers, images and tools that a rendered run must obey (issue 20): each test
states the upstream rule itself (cited), so it fails where the real cluster would refuse or break."""

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
