"""The simulated cluster's nodes and the scheduler's filter: where a pod can run, or why it cannot.

Node pools are what a Cluster Toolkit GPU cluster has: one pool per accelerator and a CPU
("system") pool. GKE taints GPU nodes nvidia.com/gpu=present:NoSchedule, and Arm nodes
kubernetes.io/arch=arm64:NoSchedule (the container API's TaintConfig.ArchitectureTaintBehavior
defaults to the ARM taint; the upstream A4X templates tolerate it). A pod fits a node when the
kube-scheduler's filter plugins would let it: TaintToleration (every NoSchedule/NoExecute taint
tolerated, matching k8s.io/api/core/v1 Toleration.ToleratesTaint), NodeAffinity (nodeSelector and
required node-affinity terms), InterPodAffinity (required pod affinity, hostname topology) and
NodeResourcesFit (GPUs). The failure message has the scheduler's shape: "0/N nodes are available:
..." counted per reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from recipebench.catalog.accelerators import ACCELERATORS
from recipebench.sim.server import matches

GPU = "nvidia.com/gpu"


@dataclass
class Node:
    name: str
    labels: dict[str, str]
    taints: list[dict] = field(default_factory=list)
    gpus: int = 0


def seed_nodes(gpu_nodes: dict[str, int] | None = None, system_nodes: int = 3) -> list[Node]:
    """A system pool and one GPU pool per accelerator (how many nodes each: gpu_nodes)."""
    counts = {"a3ultra": 2, "a3mega": 2, "a4": 2, "a4x": 18, **(gpu_nodes or {})}
    nodes = [Node(f"gke-system-{i}", {"kubernetes.io/arch": "amd64", "kubernetes.io/hostname": f"gke-system-{i}",
                                      "cloud.google.com/gke-nodepool": "system",
                                      "node.kubernetes.io/instance-type": "e2-standard-8"}) for i in range(system_nodes)]
    for acc in ACCELERATORS.values():
        taints = [{"key": GPU, "value": "present", "effect": "NoSchedule"}]
        if acc.arch == "arm64":
            taints.append({"key": "kubernetes.io/arch", "value": "arm64", "effect": "NoSchedule"})
        for i in range(counts.get(acc.name, 0)):
            name = f"gke-{acc.name}-{i}"
            nodes.append(Node(name, {"kubernetes.io/arch": acc.arch, "kubernetes.io/hostname": name,
                                     "cloud.google.com/gke-accelerator": acc.gke_accelerator,
                                     "cloud.google.com/gke-nodepool": f"{acc.name}-pool",
                                     "node.kubernetes.io/instance-type": acc.machine_type}, taints, acc.gpus_per_node))
    return nodes


def tolerates(toleration: dict, taint: dict) -> bool:
    """k8s.io/api/core/v1 Toleration.ToleratesTaint."""
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    if toleration.get("key") and toleration["key"] != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Exists":
        return True
    return op == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def _selector_term(term: dict, labels: dict[str, str]) -> bool:
    for req in term.get("matchExpressions") or []:
        value, op, values = labels.get(req["key"]), req["operator"], req.get("values") or []
        if (op == "In" and value not in values) or (op == "NotIn" and value in values) or \
                (op == "Exists" and value is None) or (op == "DoesNotExist" and value is not None):
            return False
    return True


def gpu_request(spec: dict) -> int:
    return sum(int(((c.get("resources") or {}).get("limits") or {}).get(GPU, 0)) for c in spec.get("containers") or [])


def _pod_affinity(spec: dict, node: Node, bound: list[tuple[dict, str]], namespace: str,
                  by_name: dict[str, Node]) -> bool:
    """Every required pod-affinity term has a matching pod in the node's topology domain."""
    terms = (((spec.get("affinity") or {}).get("podAffinity") or {})
             .get("requiredDuringSchedulingIgnoredDuringExecution") or [])
    for term in terms:
        selector = ",".join(f"{k}={v}" for k, v in ((term.get("labelSelector") or {}).get("matchLabels") or {}).items())
        key = term.get("topologyKey", "kubernetes.io/hostname")
        if not any(pod["metadata"].get("namespace") == namespace
                   and matches(pod["metadata"].get("labels") or {}, selector)
                   and by_name[host].labels.get(key) == node.labels.get(key) for pod, host in bound):
            return False
    return True


def place(pod: dict, nodes: list[Node], bound: list[tuple[dict, str]]) -> tuple[str | None, str]:
    """(node name, "") when the pod fits a node, else (None, the scheduler's message).

    bound: the pods already on nodes (pod, node name) that still hold their resources."""
    spec = pod.get("spec") or {}
    by_name = {n.name: n for n in nodes}
    used: Counter[str] = Counter()
    for other, host in bound:
        used[host] += gpu_request(other.get("spec") or {})
    want = gpu_request(spec)
    reasons: Counter = Counter()
    for node in nodes:
        untolerated = next((t for t in node.taints if t.get("effect") in ("NoSchedule", "NoExecute") and not any(
            tolerates(tol, t) for tol in spec.get("tolerations") or [])), None)
        if untolerated:
            reasons[f"node(s) had untolerated taint {{{untolerated['key']}: {untolerated.get('value', '')}}}"] += 1
            continue
        required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                    .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []
        if any(node.labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()) or (
                required and not any(_selector_term(t, node.labels) for t in required)):
            reasons["node(s) didn't match Pod's node affinity/selector"] += 1
            continue
        if not _pod_affinity(spec, node, bound, pod["metadata"].get("namespace", "default"), by_name):
            reasons["node(s) didn't match pod affinity rules"] += 1
            continue
        if want and node.gpus - used[node.name] < want:
            reasons[f"Insufficient {GPU}"] += 1
            continue
        return node.name, ""
    detail = ", ".join(f"{n} {r}" for r, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))
    return None, f"0/{len(nodes)} nodes are available: {detail}."


def only_capacity(message: str) -> bool:
    """Whether the pod waits only for GPUs (a node of the right kind could free up or be added)."""
    parts = message.split(": ", 1)[-1].rstrip(".").split(", ")
    return all(p.endswith(f"Insufficient {GPU}") or "pod affinity" in p for p in parts if p) and any(
        p.endswith(f"Insufficient {GPU}") for p in parts)
