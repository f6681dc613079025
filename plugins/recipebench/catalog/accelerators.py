"""The GKE accelerator machines a recipe can target, and what each implies.

Facts from AI-Hypercomputer/gpu-recipes (at 2e1fd5efbf1a): the environment docs
(docs/configuring-environment-gke-*.md) and each recipe's pod spec (src/helm-charts/<machine>/...). Each entry is also the first layer of a recipe's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Accelerator:
    name: str  # our short id, used in recipe files
    machine_type: str
    gpu: str  # marketing name, for people
    gke_accelerator: str  # value of the node label cloud.google.com/gke-accelerator
    gpus_per_node: int
    arch: str  # kubernetes.io/arch of the node
    network_profile: str  # the manifest partial that wires the NICs: include/manifests/network/<name>.j2
    default_queue: str  # Kueue LocalQueue the Cluster Toolkit blueprint creates
    nccl_plugin_image: str  # init container that installs the NCCL network plugin
    # (interface, GKE network) pairs of the multi-network annotation; empty for TCPXO, whose
    # network names derive from the cluster name
    interfaces: tuple[tuple[str, str], ...] = ()
    # USD per GPU-hour for the cost columns. No list price is written here: what a team pays
    # (on-demand, committed use, DWS, reservations) differs per deployment and per region, so
    # the figure comes from RECIPEBENCH_GPU_HOUR_USD (gpu_hour_usd below); without it the cost
    # columns stay empty rather than show an invented number.
    gpu_hour_usd: float | None = None
    # nodes of one NVLink domain (a GB200 NVL72 rack: 18 trays of 4 GPUs); a ComputeDomain's IMEX
    # channels, which multi-node NVLink needs, work within one domain only. None: no multi-node NVLink
    nvlink_domain_nodes: int | None = None

    @property
    def gpu_tag(self) -> str:
        """The GPU as people search for it (h100, h200, b200, gb200): the node label's value without the
        vendor, memory or variant (nvidia-h200-141gb: h200)."""
        return self.gke_accelerator.removeprefix("nvidia-").split("-")[0]

    def defaults(self) -> dict:
        """The recipe-defaults layer this accelerator contributes."""
        return {"cluster": {"queue": self.default_queue}}


GIB = "us-docker.pkg.dev/gce-ai-infra/gpudirect-gib"
_RDMA8 = (("eth0", "default"), ("eth1", "gvnic-1"), *((f"eth{i + 2}", f"rdma-{i}") for i in range(8)))
_RDMA4 = (("eth0", "default"), *((f"eth{i + 2}", f"rdma-{i}") for i in range(4)))

ACCELERATORS: dict[str, Accelerator] = {
    a.name: a
    for a in (
        Accelerator(
            name="a3ultra",
            machine_type="a3-ultragpu-8g",
            gpu="8x NVIDIA H200 141GB",
            gke_accelerator="nvidia-h200-141gb",
            gpus_per_node=8,
            arch="amd64",
            network_profile="gib",
            default_queue="a3-ultra",
            nccl_plugin_image=f"{GIB}/nccl-plugin-gib:v1.0.3",
            interfaces=_RDMA8,
        ),
        Accelerator(
            name="a3mega",
            machine_type="a3-megagpu-8g",
            gpu="8x NVIDIA H100 80GB (Mega)",
            gke_accelerator="nvidia-h100-mega-80gb",
            gpus_per_node=8,
            arch="amd64",
            network_profile="tcpxo",
            default_queue="a3-mega",
            nccl_plugin_image="us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpxo/nccl-plugin-gpudirecttcpx-dev:v1.0.8-1",
        ),
        Accelerator(
            name="a4",
            machine_type="a4-highgpu-8g",
            gpu="8x NVIDIA B200",
            gke_accelerator="nvidia-b200",
            gpus_per_node=8,
            arch="amd64",
            network_profile="gib",
            default_queue="a4-high",
            nccl_plugin_image=f"{GIB}/nccl-plugin-gib:v1.0.5",
            interfaces=_RDMA8,
        ),
        Accelerator(
            name="a4x",
            machine_type="a4x-highgpu-4g",
            gpu="4x NVIDIA GB200",
            gke_accelerator="nvidia-gb200",
            gpus_per_node=4,
            arch="arm64",
            network_profile="gib",
            default_queue="a4x",
            nccl_plugin_image=f"{GIB}/nccl-plugin-gib-arm64:v1.0.7",
            interfaces=_RDMA4,
            nvlink_domain_nodes=18,
        ),
    )
}


def gpu_hour_usd(accelerator: str) -> float | None:
    """The price per GPU-hour of an accelerator: RECIPEBENCH_GPU_HOUR_USD (a JSON object
    {"a4": 10.5, ...}, set per deployment) over the catalog's value. A malformed setting is an
    error naming the variable, not a silent missing cost."""
    import json
    import os

    raw = os.environ.get("RECIPEBENCH_GPU_HOUR_USD", "").strip()
    prices: dict = {}
    if raw:
        try:
            prices = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"RECIPEBENCH_GPU_HOUR_USD is not JSON: {exc}") from None
        if not isinstance(prices, dict) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in prices.values()):
            raise ValueError(f"RECIPEBENCH_GPU_HOUR_USD={raw!r}: expected an object of positive prices, "
                             f"e.g. {{\"a4\": 10.5}}")
        unknown = set(prices) - set(ACCELERATORS)
        if unknown:
            raise ValueError(f"RECIPEBENCH_GPU_HOUR_USD names unknown accelerator(s) {sorted(unknown)}; "
                             f"known: {sorted(ACCELERATORS)}")
    price = prices.get(accelerator, ACCELERATORS[accelerator].gpu_hour_usd if accelerator in ACCELERATORS else None)
    return float(price) if price is not None else None
