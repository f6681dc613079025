"""Offline validation of rendered objects, before anything reaches a cluster.

- core kinds: the Kubernetes OpenAPI schemas of KUBERNETES_VERSION shipped in `kubernetes-validate`
  (strict: unknown fields are errors);
- LeaderWorkerSet: the openAPIV3Schema of its CRD (LWS_CRD, or the copy in ../shared/schemas);
- DynamoGraphDeployment and ComputeDomain: a schema of the fields we use (no CRD is vendored);
- everywhere: our labels on every object and pod template, DNS-1123 names, no secret value inline.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from recipebench.catalog.naming import EXPIRES_LABEL, MANAGED_BY, OWNER_LABEL, RECIPE_LABEL, RUN_LABEL, is_dns_label
from recipebench.catalog.paths import REPO_ROOT
from recipebench.catalog.recipe import Recipe
from recipebench.manifests.errors import ManifestError, object_id

# GKE 1.33 is the newest minimum among the recipes (A4X needs 1.33.4-gke.1036000)
KUBERNETES_VERSION = "1.33.0"
REQUIRED_LABELS = (MANAGED_BY, RECIPE_LABEL, RUN_LABEL, OWNER_LABEL, EXPIRES_LABEL)
SECRETISH = {"TOKEN", "KEY", "APIKEY", "PASSWORD", "SECRET", "CREDENTIALS", "CREDENTIAL"}  # words of an env name


def _lws_crd_path() -> Path | None:
    env = os.environ.get("RECIPEBENCH_LWS_CRD")
    default = REPO_ROOT.parent / "shared" / "schemas" / "crds" / "leaderworkerset.x-k8s.io_leaderworkersets.v0.9.0.yaml"
    path = Path(env) if env else default
    return path if path.exists() else None


@lru_cache(maxsize=1)
def _lws_schema() -> dict | None:
    import yaml

    path = _lws_crd_path()
    if path is None:
        return None
    crd = yaml.safe_load(path.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return version["schema"]["openAPIV3Schema"]


_STR_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_META = {"type": "object", "required": ["name", "namespace", "labels"],
         "properties": {"name": {"type": "string"}, "namespace": {"type": "string"}, "labels": _STR_MAP}}
_SERVICE = {
    "type": "object",
    "required": ["componentType", "replicas", "extraPodSpec"],
    "additionalProperties": False,
    "properties": {
        "componentType": {"enum": ["frontend", "worker", "planner"]},
        "subComponentType": {"enum": ["prefill", "decode"]},
        "dynamoNamespace": {"type": "string"},
        "replicas": {"type": "integer", "minimum": 1},
        "multinode": {"type": "object", "required": ["nodeCount"], "additionalProperties": False,
                      "properties": {"nodeCount": {"type": "integer", "minimum": 2}}},
        "labels": _STR_MAP,
        "annotations": _STR_MAP,
        "envFromSecret": {"type": "string"},
        "sharedMemory": {"type": "object", "properties": {"size": {"type": "string"}}},
        "resources": {"type": "object"},
        "extraPodSpec": {"type": "object", "required": ["mainContainer"],
                         "properties": {"mainContainer": {"type": "object", "required": ["image"],
                                                          "properties": {"image": {"type": "string", "minLength": 1}}}}},
    },
}
CUSTOM_SCHEMAS = {
    ("nvidia.com/v1alpha1", "DynamoGraphDeployment"): {
        "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {"metadata": _META, "spec": {
            "type": "object", "required": ["services"], "additionalProperties": False,
            "properties": {"backendFramework": {"enum": ["sglang", "vllm", "trtllm"]},
                           "services": {"type": "object", "minProperties": 1, "additionalProperties": _SERVICE}}}},
    },
    ("resource.nvidia.com/v1beta1", "ComputeDomain"): {
        "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {"metadata": _META, "spec": {
            "type": "object", "required": ["numNodes", "channel"], "additionalProperties": False,
            "properties": {"numNodes": {"type": "integer", "minimum": 1},
                           "channel": {"type": "object", "required": ["resourceClaimTemplate"]}}}},
    },
}


def _path(error) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(object)"


def _schema_check(obj: dict) -> None:
    import jsonschema

    key = (obj.get("apiVersion"), obj.get("kind"))
    if key == ("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet"):
        schema = _lws_schema()
        if schema is None:
            raise ManifestError(f"{object_id(obj)}: no LeaderWorkerSet CRD to validate against (set RECIPEBENCH_LWS_CRD)")
        _jsonschema(obj, schema, jsonschema)
        # the CRD leaves pod templates open: check them as core PodTemplateSpecs
        lwt = obj["spec"]["leaderWorkerTemplate"]
        for part in ("leaderTemplate", "workerTemplate"):
            if part in lwt:
                _core({"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}, "template": lwt[part]},
                      label=f"{object_id(obj)} spec.leaderWorkerTemplate.{part}")
        return
    if key in CUSTOM_SCHEMAS:
        _jsonschema(obj, CUSTOM_SCHEMAS[key], jsonschema)
        return
    _core(obj)


def _jsonschema(obj: dict, schema: dict, jsonschema) -> None:
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(obj), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        raise ManifestError(f"{object_id(obj)}: field {_path(e)}: {e.message}")


def _core(obj: dict, label: str | None = None) -> None:
    import kubernetes_validate
    from kubernetes_validate.utils import SchemaNotFoundError, ValidationError

    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except ValidationError as exc:
        raise ManifestError(f"{label or object_id(obj)}: field {_path(exc)}: {exc.message}") from None
    except SchemaNotFoundError as exc:
        raise ManifestError(f"{label or object_id(obj)}: no schema for this kind: {exc}") from None


def pod_templates(obj: dict) -> list[tuple[str, dict]]:
    spec = obj.get("spec") or {}
    found = []
    if "template" in spec:
        found.append(("spec.template", spec["template"]))
    lwt = spec.get("leaderWorkerTemplate") or {}
    found += [(f"spec.leaderWorkerTemplate.{k}", lwt[k]) for k in ("leaderTemplate", "workerTemplate") if k in lwt]
    found += [(f"spec.services.{k}", v) for k, v in (spec.get("services") or {}).items()]
    return found


def check_invariants(obj: dict) -> None:
    oid = object_id(obj)
    name = obj["metadata"]["name"]
    if not is_dns_label(name):
        raise ManifestError(f"{oid}: field metadata.name: {name!r} is not a DNS-1123 label of at most 63 characters")
    for where, labels in [("metadata.labels", obj["metadata"].get("labels") or {})] + [
            (f"{path}.{'labels' if 'services' in path else 'metadata.labels'}",
             t.get("labels") if "services" in path else (t.get("metadata") or {}).get("labels") or {})
            for path, t in pod_templates(obj)]:
        missing = [k for k in REQUIRED_LABELS if k not in (labels or {})]
        if missing:
            raise ManifestError(f"{oid}: field {where}: missing label(s) {', '.join(missing)}")
    if obj["kind"] == "Secret":
        raise ManifestError(f"{oid}: Secrets are created by the create_secrets stage, never rendered")
    _no_inline_secrets(obj, oid, "")


def _no_inline_secrets(node, oid: str, path: str) -> None:
    if isinstance(node, dict):
        if "name" in node and "value" in node and SECRETISH & set(str(node["name"]).upper().split("_")):
            raise ManifestError(f"{oid}: field {path}: env {node['name']} carries a value inline; use secretKeyRef")
        for k, v in node.items():
            _no_inline_secrets(v, oid, f"{path}.{k}" if path else k)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _no_inline_secrets(v, oid, f"{path}.{i}")


def validate_objects(objects: list[dict]) -> None:
    """Raise ManifestError for the first object that is not valid, naming it and the field."""
    for obj in objects:
        _schema_check(obj)
        check_invariants(obj)


def render_and_validate(recipe: Recipe) -> list[dict]:
    """Every object an example run of the recipe creates, validated (what `recipebench validate` checks)."""
    from recipebench.manifests.render import example_run, render_all

    objects = render_all(example_run(recipe))
    validate_objects(objects)
    return objects
