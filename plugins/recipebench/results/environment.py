"""A run's environment, put together from what its pods printed (parsers.server_log.environment_block),
what the API says of their nodes and what the server reports of itself; and the columns a team
filters on (catalog.environment.COLUMNS).

Pure: dicts in, dicts out. A field the pods or nodes disagree on (a driver upgrade that reached some
nodes) keeps every value, joined, and says so in `notes`: a run on mixed drivers is not compared as one.
"""

from __future__ import annotations

from typing import Any

from recipebench.catalog import environment


def node_info(node: dict) -> dict[str, Any]:
    """A Node object's status.nodeInfo (k8s.io/api core/v1 NodeSystemInfo) and GKE's labels, as the
    environment's node fields."""
    info = (node.get("status") or {}).get("nodeInfo") or {}
    labels = (node.get("metadata") or {}).get("labels") or {}
    return {"kubelet_version": info.get("kubeletVersion"), "os_image": info.get("osImage"),
            "kernel": info.get("kernelVersion"), "container_runtime": info.get("containerRuntimeVersion"),
            "node_pool": labels.get(environment.NODE_POOL_LABEL),
            "machine_type": labels.get(environment.MACHINE_TYPE_LABEL)}


def _one(values: list[Any], what: str, notes: list[str]) -> Any:
    """The value all agree on; several joined (and a note) when they differ; None when none is known."""
    known = sorted({str(v) for v in values if v not in (None, "")})
    if len(known) > 1:
        notes.append(f"{what} differs across the run's pods or nodes: {', '.join(known)}")
    return ", ".join(known) or None


def server_version(framework: str, answer: dict | None) -> str | None:
    """The version in the server's own report (SGLang's /get_server_info, vLLM's /version)."""
    value = (answer or {}).get("version")
    return str(value) if value else None


def summarize(framework: str, blocks: dict[str, dict | None], nodes: dict[str, dict | None],
              reported_version: str | None = None, notes: list[str] | None = None) -> dict[str, Any]:
    """blocks: pod name -> its environment block (None: it printed none); nodes: node name -> node_info
    (None: the node could not be read). The environment JSON of the run, with the columns at its top."""
    notes = list(notes or [])
    printed = {pod: b for pod, b in blocks.items() if b}
    for pod in sorted(set(blocks) - set(printed)):
        notes.append(f"{pod} printed no environment block")
    gpus = [g for b in printed.values() for g in b["gpus"]]
    package = environment.MAIN_PACKAGE.get(framework)
    packaged = _one([b["packages"].get(package) for b in printed.values()], f"{package} version", notes)
    known_nodes = {n: info for n, info in nodes.items() if info}
    env: dict[str, Any] = {
        "driver_version": _one([g["driver_version"] for g in gpus], "driver", notes),
        "cuda_version": _one([b.get("cuda") for b in printed.values()], "CUDA", notes),
        "nccl_version": _one([b.get("nccl") for b in printed.values()], "NCCL", notes),
        # what the server says it is comes first; its package's version when it says nothing
        "server_version": reported_version or packaged,
        "node_image": _one([i["os_image"] for i in known_nodes.values()], "node image", notes),
        "gpu": _one([g["name"] for g in gpus], "GPU model", notes),
        "gpus": len(gpus),
        "python_version": _one([b.get("python") for b in printed.values()], "python", notes),
        "torch_version": _one([b.get("torch") for b in printed.values()], "torch", notes),
        "packages": {name: _one([b["packages"].get(name) for b in printed.values()], name, notes)
                     for name in environment.PACKAGES.get(framework, ())},
        "kubelet_version": _one([i["kubelet_version"] for i in known_nodes.values()], "kubelet", notes),
        "kernel": _one([i["kernel"] for i in known_nodes.values()], "kernel", notes),
        "container_runtime": _one([i["container_runtime"] for i in known_nodes.values()], "container runtime", notes),
        "node_pools": sorted({i["node_pool"] for i in known_nodes.values() if i["node_pool"]}),
        "machine_types": sorted({i["machine_type"] for i in known_nodes.values() if i["machine_type"]}),
        "nodes": sorted(nodes),
        "pods": sorted(blocks),
        "errors": sorted({f"{pod}: {e}" for pod, b in printed.items() for e in b["errors"]}),
    }
    if reported_version and packaged and reported_version != packaged:
        notes.append(f"the server reports version {reported_version}, its {package} package is {packaged}")
    env["notes"] = notes
    return env


def columns(env: dict[str, Any] | None) -> dict[str, Any]:
    """The runs columns of an environment (all NULL without one)."""
    return {name: (env or {}).get(name) for name in environment.COLUMNS}
