"""Images: which ones a run needs, whether to build them, the Cloud Build request, the digests to pin.

A run needs the server's image and, for a client with an image of its own (AIPerf, recipebench.clients),
that one too. A prebuilt image (TensorRT-LLM and Dynamo from NGC) builds nothing. A built image is
looked up in Artifact Registry first (Docker Registry v2 API, with the Google connection's token);
an existing tag is reused, so a nightly run builds once per version, not every night. What is
missing is built by ONE Cloud Build request (the specs' steps one after the other), so build_image
defers once. The digests (from the registry, or from the build result) are what the manifests pin
and the runs row records.

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
from recipebench.errors import RecipebenchError

REGISTRY = re.compile(r"^(?P<location>[a-z0-9-]+)-docker\.pkg\.dev/(?P<project>[^/]+)/(?P<repo>[^/]+)$")


class ImageError(RecipebenchError):
    """The image cannot be obtained; says which and why."""


def registry_parts(recipe: Recipe) -> dict[str, str]:
    m = REGISTRY.match(recipe.cluster.artifact_registry or "")
    if not m:
        raise ImageError(f"recipe {recipe.id}: cluster.artifact_registry {recipe.cluster.artifact_registry!r} is not "
                         "LOCATION-docker.pkg.dev/PROJECT/REPOSITORY")
    return m.groupdict()


def needed(recipe: Recipe) -> dict[str, dict[str, Any]]:
    """role (server, client) -> what the run needs: the image reference, and how to build it if at all."""
    images = {"server": {"image": recipe.image_ref(), "build": recipe.image.build,
                         "repository": recipe.image.repository, "tag": recipe.image.tag}}
    own = recipe.benchmark.client.image
    if own is not None:
        images["client"] = {"image": recipe.client_image_ref(), "build": own.build, "repository": own.repository,
                            "tag": own.tag}
    return images


def cloudbuild_config(recipe: Recipe, roles: list[str] | None = None) -> dict[str, Any] | None:
    """ONE Cloud Build config (config-file format) that builds the images of these roles (default: every
    image the recipe builds); None: nothing to build. Each spec's own substitutions are filled in and
    its step ids prefixed, so several specs run one after the other in one build."""
    parts = [(role, need) for role, need in needed(recipe).items()
             if need["build"] and (roles is None or role in roles)]
    if not parts:
        return None
    merged: dict[str, Any] = {"steps": [], "images": [], "tags": ["recipebench", recipe.id], "timeout": 0}
    for role, need in parts:
        spec = yaml.safe_load((CLOUDBUILD / f"{need['build']}.yaml").read_text())
        values = {**spec.get("substitutions", {}), "_ARTIFACT_REGISTRY": recipe.cluster.artifact_registry,
                  "_IMAGE": need["repository"], "_TAG": need["tag"]}
        spec = _substitute(spec, values)
        for step in spec["steps"]:
            step["id"] = f"{role}-{step['id']}"
            if step.get("waitFor"):
                step["waitFor"] = [f"{role}-{w}" if w != "-" else w for w in step["waitFor"]]
        merged["steps"] += spec["steps"]
        merged["images"] += spec.get("images", [])
        merged["timeout"] += int(str(spec.get("timeout", "3600s")).rstrip("s"))  # the steps run one after another
        merged.setdefault("options", spec.get("options", {}))  # the first (largest) spec's machine
        merged["tags"] += [t for t in spec.get("tags", []) if t not in merged["tags"]]
    merged["timeout"] = f"{merged['timeout']}s"
    if not merged["images"]:
        del merged["images"]  # specs that push themselves (buildx --push)
    return merged


def _substitute(node, values: dict[str, str]):
    """Fill ${_NAME} user substitutions in, leaving Cloud Build's own (${PROJECT_ID}) to it."""
    if isinstance(node, dict):
        return {k: _substitute(v, values) for k, v in node.items() if k != "substitutions"}
    if isinstance(node, list):
        return [_substitute(v, values) for v in node]
    if isinstance(node, str):
        for name, value in values.items():
            node = node.replace(f"${{{name}}}", str(value))
    return node


def build_request(recipe: Recipe, roles: list[str] | None = None) -> dict[str, Any] | None:
    """The request for CloudBuildCreateBuildOperator: the config parsed as google-cloud-build's Build
    (proto JSON names -> snake_case dict), so a wrong field fails here, not in Cloud Build."""
    from google.cloud.devtools.cloudbuild_v1.types import Build

    config = cloudbuild_config(recipe, roles)
    if config is None:
        return None
    try:
        build = Build.from_json(json.dumps(config))
    except Exception as exc:
        specs = ", ".join(f"include/cloudbuild/{n['build']}.yaml" for n in needed(recipe).values() if n["build"])
        raise ImageError(f"{specs}: not a valid Cloud Build request: {exc}") from None
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


def decide(recipe: Recipe, mode: str, existing: dict[str, str | None]) -> dict[str, Any]:
    """Build or skip each needed image, and why (pure). existing: role -> digest found in the registry."""
    roles: list[str] = []
    digests: dict[str, str | None] = {}
    reasons: list[str] = []
    for role, need in needed(recipe).items():
        image, digest = need["image"], existing.get(role)
        if need["build"] is None:
            digests[role] = None
            reasons.append(f"prebuilt image {image}: nothing to build")
        elif mode == "assume-present":
            digests[role] = None
            reasons.append(f"RECIPEBENCH_IMAGES=assume-present: {image} is used as is, its digest is not known")
        elif digest:
            digests[role] = digest
            reasons.append(f"{image} already exists in Artifact Registry ({digest}): not rebuilt")
        else:
            digests[role] = None
            roles.append(role)
            reasons.append(f"{image} does not exist yet: building it")
    return {"action": "build" if roles else "skip", "roles": roles, "digests": digests,
            "images": {role: need["image"] for role, need in needed(recipe).items()}, "reason": "; ".join(reasons)}


def existing_digests(recipe: Recipe, mode: str, roles: tuple[str, ...] | None = None) -> dict[str, str | None]:
    """role -> the digest Artifact Registry has for each image the project builds (None: not there yet);
    nothing for a prebuilt image or RECIPEBENCH_IMAGES=assume-present."""
    if mode == "assume-present":
        return {}
    return {role: registry_digest(f"{recipe.cluster.artifact_registry}/{need['repository']}", need["tag"])
            for role, need in needed(recipe).items() if need["build"] and (roles is None or role in roles)}


def known_digest(recipe: Recipe, mode: str) -> str | None:
    """The server image's digest where the project can know it before the run (an image it builds)."""
    return existing_digests(recipe, mode, ("server",)).get("server")


def prepare_build(recipe: Recipe, mode: str, log) -> dict[str, Any]:
    """The decision for this recipe; with action "build", also the request and where to run it."""
    decision = decide(recipe, mode, existing_digests(recipe, mode))
    log.info("build_image: %s", decision["reason"])
    if decision["action"] == "build":
        parts = registry_parts(recipe)
        decision |= {"request": build_request(recipe, decision["roles"]), "project": parts["project"],
                     "location": parts["location"]}
    return decision


def digest_from_build(result: dict[str, Any], image: str) -> str | None:
    """The pushed image's digest from a finished Build (results.images), when Cloud Build pushed it."""
    for pushed in (result.get("results") or {}).get("images") or []:
        if pushed.get("name", "").split("@")[0] == image or pushed.get("name") == image:
            return pushed.get("digest")
    return None
