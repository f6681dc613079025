"""Images: the Cloud Build request per framework, whether to build at all, and the digest to pin.

A recipe with a prebuilt image (TensorRT-LLM from NGC) builds nothing. A built image is looked up
in Artifact Registry first (Docker Registry v2 API, with the Google connection's token); an
existing tag is reused, so a nightly run builds once per version, not every night. The digest
(from the registry, or from the build result) is what the manifests pin and the runs row records.

RECIPEBENCH_IMAGES=assume-present skips the registry and Cloud Build entirely, for clusters that
cannot reach Google (the simulated one): the run then records that no digest is known.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from recipebench.catalog.paths import CLOUDBUILD
from recipebench.catalog.recipe import Recipe

REGISTRY = re.compile(r"^(?P<location>[a-z0-9-]+)-docker\.pkg\.dev/(?P<project>[^/]+)/(?P<repo>[^/]+)$")


class ImageError(RuntimeError):
    """The image cannot be obtained; says which and why."""


def registry_parts(recipe: Recipe) -> dict[str, str]:
    m = REGISTRY.match(recipe.cluster.artifact_registry or "")
    if not m:
        raise ImageError(f"recipe {recipe.id}: cluster.artifact_registry {recipe.cluster.artifact_registry!r} is not "
                         "LOCATION-docker.pkg.dev/PROJECT/REPOSITORY")
    return m.groupdict()


def cloudbuild_config(recipe: Recipe) -> dict[str, Any] | None:
    """The Cloud Build config (config-file format) with this recipe's substitutions; None: nothing to build."""
    if recipe.image.build is None:
        return None
    config = yaml.safe_load((CLOUDBUILD / f"{recipe.image.build}.yaml").read_text())
    config["substitutions"] |= {"_ARTIFACT_REGISTRY": recipe.cluster.artifact_registry,
                                "_IMAGE": recipe.image.repository, "_TAG": recipe.image.tag}
    config.setdefault("tags", []).append(recipe.id)
    return config


def build_request(recipe: Recipe) -> dict[str, Any] | None:
    """The request for CloudBuildCreateBuildOperator: the config parsed as google-cloud-build's Build
    (proto JSON names -> snake_case dict), so a wrong field fails here, not in Cloud Build."""
    from google.cloud.devtools.cloudbuild_v1.types import Build

    config = cloudbuild_config(recipe)
    if config is None:
        return None
    try:
        build = Build.from_json(json.dumps(config))
    except Exception as exc:
        raise ImageError(f"include/cloudbuild/{recipe.image.build}.yaml is not a valid Cloud Build request: {exc}") \
            from None
    return Build.to_dict(build, preserving_proto_field_name=True, use_integers_for_enums=False,
                         always_print_fields_with_no_presence=False)


def registry_digest(image_repo: str, tag: str, gcp_conn_id: str = "google_cloud_default") -> str | None:
    """The digest of IMAGE:TAG in Artifact Registry, or None when the tag does not exist."""
    import requests
    from airflow.providers.google.common.hooks.base_google import GoogleBaseHook
    from google.auth.transport.requests import Request

    host, _, path = image_repo.partition("/")
    creds, _ = GoogleBaseHook(gcp_conn_id=gcp_conn_id).get_credentials_and_project_id()
    creds.refresh(Request())
    response = requests.head(
        f"https://{host}/v2/{path}/manifests/{tag}", timeout=30,
        headers={"Authorization": f"Bearer {creds.token}", "Accept": ", ".join([
            "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.docker.distribution.manifest.v2+json", "application/vnd.oci.image.manifest.v1+json"])})
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise ImageError(f"Artifact Registry answered {response.status_code} for {image_repo}:{tag}")
    return response.headers.get("Docker-Content-Digest")


def decide(recipe: Recipe, mode: str, existing_digest: str | None) -> dict[str, Any]:
    """Build or skip, and why (pure)."""
    image = recipe.image_ref()
    if recipe.image.build is None:
        return {"action": "skip", "image": image, "digest": None,
                "reason": f"prebuilt image {image}: nothing to build"}
    if mode == "assume-present":
        return {"action": "skip", "image": image, "digest": None,
                "reason": f"RECIPEBENCH_IMAGES=assume-present: {image} is used as is, its digest is not known"}
    if existing_digest:
        return {"action": "skip", "image": image, "digest": existing_digest,
                "reason": f"{image} already exists in Artifact Registry ({existing_digest}): not rebuilt"}
    return {"action": "build", "image": image, "digest": None, "reason": f"{image} does not exist yet: building it"}


def prepare_build(recipe: Recipe, mode: str, log) -> dict[str, Any]:
    """The decision for this recipe; with action "build", also the request and where to run it."""
    existing = None
    if recipe.image.build and mode != "assume-present":
        existing = registry_digest(f"{recipe.cluster.artifact_registry}/{recipe.image.repository}", recipe.image.tag)
    decision = decide(recipe, mode, existing)
    log.info("build_image: %s", decision["reason"])
    if decision["action"] == "build":
        parts = registry_parts(recipe)
        decision |= {"request": build_request(recipe), "project": parts["project"], "location": parts["location"]}
    return decision


def digest_from_build(result: dict[str, Any], image: str) -> str | None:
    """The pushed image's digest from a finished Build (results.images), when Cloud Build pushed it."""
    for pushed in (result.get("results") or {}).get("images") or []:
        if pushed.get("name", "").split("@")[0] == image or pushed.get("name") == image:
            return pushed.get("digest")
    return None
