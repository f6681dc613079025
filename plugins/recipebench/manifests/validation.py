"""Offline validation of rendered objects, before anything reaches a cluster.

- core kinds: the Kubernetes OpenAPI schemas of KUBERNETES_VERSION shipped in `kubernetes-validate`
  (strict: unknown fields are errors);
- LeaderWorkerSet, DynamoGraphDeployment, ComputeDomain: the openAPIV3Schema of the real CRD of the
  pinned version (include/schemas/crds), made strict the way the API server treats a structural
  schema under strict field validation: an object with `properties` takes no other key unless it
  says x-kubernetes-preserve-unknown-fields;
- everywhere: our labels on every object and pod template, DNS-1123 names, no secret value inline,
  no container replacing the image's LD_LIBRARY_PATH, none running a root-only step as a non-root uid;
- the workload object: what its controllers' admission webhooks refuse (each shape's admission_errors).
"""

from __future__ import annotations

import copy
import re
from functools import cache

from recipebench.catalog.naming import EXPIRES_LABEL, MANAGED_BY, OWNER_LABEL, RECIPE_LABEL, RUN_LABEL, is_dns_label
from recipebench.catalog.paths import SCHEMAS
from recipebench.catalog.recipe import Recipe
from recipebench.manifests.errors import ManifestError, object_id

# GKE 1.33 is the newest minimum among the recipes (A4X needs 1.33.4-gke.1036000)
KUBERNETES_VERSION = "1.33.0"
REQUIRED_LABELS = (MANAGED_BY, RECIPE_LABEL, RUN_LABEL, OWNER_LABEL, EXPIRES_LABEL)
SECRETISH = {"TOKEN", "KEY", "APIKEY", "PASSWORD", "SECRET", "CREDENTIALS", "CREDENTIAL"}  # words of an env name
# (apiVersion, kind) -> the CRD file of the version the platform stage installs (include/schemas/SOURCES.md)
CRDS = {
    ("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet"): "leaderworkerset.x-k8s.io_leaderworkersets.v0.9.0.yaml",
    ("nvidia.com/v1alpha1", "DynamoGraphDeployment"): "nvidia.com_dynamographdeployments.v0.7.0.yaml",
    ("resource.nvidia.com/v1beta1", "ComputeDomain"): "resource.nvidia.com_computedomains.v25.12.0.yaml",
}


@cache
def crd_schema(api_version: str, kind: str) -> dict:
    """The strict JSON schema of a custom kind, from its CRD."""
    import yaml

    path = SCHEMAS / "crds" / CRDS[(api_version, kind)]
    crd = yaml.safe_load(path.read_text())
    version = api_version.split("/")[1]
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    return strict(served["schema"]["openAPIV3Schema"])


def strict(schema: dict) -> dict:
    """An openAPIV3Schema as a JSON schema that rejects unknown fields (what pruning would drop)."""
    node = copy.deepcopy(schema)
    _tighten(node)
    return node


def _tighten(node) -> None:
    if isinstance(node, list):
        for item in node:
            _tighten(item)
        return
    if not isinstance(node, dict):
        return
    if ("properties" in node and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")):
        node["additionalProperties"] = False
    for key in ("properties", "patternProperties"):
        for child in (node.get(key) or {}).values():
            _tighten(child)
    for key in ("items", "additionalProperties", "anyOf", "allOf", "oneOf", "not"):
        if isinstance(node.get(key), (dict, list)):
            _tighten(node[key])


def _path(error) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(object)"


def _schema_check(obj: dict) -> None:
    import jsonschema

    key = (obj.get("apiVersion"), obj.get("kind"))
    if key not in CRDS:
        _core(obj)
        return
    _jsonschema(obj, crd_schema(*key), jsonschema)
    if obj["kind"] == "LeaderWorkerSet":  # its pod templates also as core PodTemplateSpecs (formats, enums)
        lwt = obj["spec"]["leaderWorkerTemplate"]
        for part in ("leaderTemplate", "workerTemplate"):
            if part in lwt:
                _core({"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}, "template": lwt[part]},
                      label=f"{object_id(obj)} spec.leaderWorkerTemplate.{part}")


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


def pod_templates(obj: dict) -> list[tuple[str, dict, list[dict]]]:
    """(path, pod labels, containers) of every pod an object makes: workload templates and the
    services of a DynamoGraphDeployment (labels in extraPodMetadata, container in extraPodSpec)."""
    spec = obj.get("spec") or {}
    found = []
    templates = [("spec.template", spec["template"])] if "template" in spec else []
    lwt = spec.get("leaderWorkerTemplate") or {}
    templates += [(f"spec.leaderWorkerTemplate.{k}", lwt[k]) for k in ("leaderTemplate", "workerTemplate") if k in lwt]
    for path, t in templates:
        found.append((f"{path}.metadata.labels", (t.get("metadata") or {}).get("labels") or {},
                      [*(t.get("spec") or {}).get("initContainers", []), *(t.get("spec") or {}).get("containers", [])]))
    for name, svc in (spec.get("services") or {}).items():
        main = (svc.get("extraPodSpec") or {}).get("mainContainer")
        found.append((f"spec.services.{name}.extraPodMetadata.labels",
                      (svc.get("extraPodMetadata") or {}).get("labels") or {}, [main] if main else []))
    return found


# containers that run the recipe's (framework) image: sidecars from other images keep their own env
FRAMEWORK_CONTAINERS = {"server", "leader", "worker", "offline", "bench", "main"}


# Steps of a container's script that only root can do: ldconfig rewrites /etc/ld.so.cache (as non-root:
# "Can't create temporary cache file /etc/ld.so.cache~: Permission denied"), package managers write
# under /var and /usr. `sudo` is no way out: the images do not ship it.
ROOT_ONLY = re.compile(r"(?:^|[;&|(\n]|\b(?:then|do|else)\b)\s*(?:sudo\s+)?(ldconfig|apt-get|apt|dpkg|yum|dnf|microdnf|useradd)(?=[\s;&|)]|$)")


def root_only_steps(container: dict) -> list[str]:
    """The root-only commands a container's command line and script run."""
    text = "\n".join(str(part) for part in [*(container.get("command") or []), *(container.get("args") or [])])
    return list(dict.fromkeys(m.group(1) for m in ROOT_ONLY.finditer(text)))


def _check_user(oid: str, path: str, container: dict) -> None:
    uid = (container.get("securityContext") or {}).get("runAsUser", 0)
    steps = root_only_steps(container) if uid else []
    if steps:
        raise ManifestError(f"{oid}: field {path} container {container.get('name', 'main')}: runs "
                            f"{', '.join(steps)}, which needs root, as uid {uid} (the image's user); drop the step "
                            "or use an image that runs as root")


def _client_fetches(oid: str, path: str, container: dict) -> None:
    """A benchmark client must read what it needs from staged files, not the Hub at point start."""
    import shlex

    from recipebench.clients import CLIENTS

    text = "\n".join(str(p) for p in [*(container.get("command") or []), *(container.get("args") or [])])
    for client in CLIENTS:
        if client.runs not in text:
            continue
        try:
            argv = shlex.split(text)
        except ValueError:
            argv = text.split()
        fetches = client.hub_fetches(argv)
        if fetches:
            raise ManifestError(f"{oid}: field {path} container {container.get('name', 'main')}: {client.name} would "
                                f"download {'; '.join(fetches)} from the Hugging Face Hub at every point; pass the "
                                "files staged once per run (clients.base.CLIENT_DATA)")


def check_invariants(obj: dict) -> None:
    oid = object_id(obj)
    name = obj["metadata"]["name"]
    if not is_dns_label(name):
        raise ManifestError(f"{oid}: field metadata.name: {name!r} is not a DNS-1123 label of at most 63 characters")
    for where, labels in [("metadata.labels", obj["metadata"].get("labels") or {})] + [
            (path, labels) for path, labels, _ in pod_templates(obj)]:
        missing = [k for k in REQUIRED_LABELS if k not in labels]
        if missing:
            raise ManifestError(f"{oid}: field {where}: missing label(s) {', '.join(missing)}")
    for path, _, containers in pod_templates(obj):
        for c in containers:
            if (c.get("name") in FRAMEWORK_CONTAINERS or "name" not in c) and any(
                    e.get("name") == "LD_LIBRARY_PATH" for e in c.get("env") or []):
                raise ManifestError(f"{oid}: field {path.rsplit('.', 2)[0]} container {c.get('name', 'main')}: "
                                    "env LD_LIBRARY_PATH replaces the image's own library path; extend it in the "
                                    "container's shell (serving.library_path)")
            _check_user(oid, path.rsplit('.', 2)[0], c)
            if c.get("name") in ("bench", "offline"):
                _client_fetches(oid, path.rsplit('.', 2)[0], c)
    refusals = _admission_errors(obj)
    if refusals:
        raise ManifestError(f"{oid}: " + "; ".join(refusals))
    if obj["kind"] == "Secret":
        raise ManifestError(f"{oid}: Secrets are created by the create_secrets stage, never rendered")
    _no_inline_secrets(obj, oid, "")


def _admission_errors(obj: dict) -> list[str]:
    from recipebench.shapes import SHAPES

    return [e for s in SHAPES if (s.api_version, s.kind) == (obj.get("apiVersion"), obj.get("kind"))
            for e in s.admission_errors(obj)]


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
