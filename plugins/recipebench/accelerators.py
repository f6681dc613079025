"""The GKE accelerator machines a recipe can target, and what each implies.

Facts from the gpu-recipes environment docs (reference/gpu-recipes.md, section 6 and the
per-recipe pod specs). Each entry is also the first layer of a recipe's defaults.
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
    network_profile: str  # name of the manifest partial that wires the NICs
    default_queue: str  # Kueue LocalQueue the Cluster Toolkit blueprint creates

    def defaults(self) -> dict:
        """The recipe-defaults layer this accelerator contributes."""
        return {"cluster": {"queue": self.default_queue}}


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
            network_profile="a3ultra-gib-rdma",
            default_queue="a3-ultra",
        ),
        Accelerator(
            name="a3mega",
            machine_type="a3-megagpu-8g",
            gpu="8x NVIDIA H100 80GB (Mega)",
            gke_accelerator="nvidia-h100-mega-80gb",
            gpus_per_node=8,
            arch="amd64",
            network_profile="a3mega-tcpxo",
            default_queue="a3-mega",
        ),
        Accelerator(
            name="a4",
            machine_type="a4-highgpu-8g",
            gpu="8x NVIDIA B200",
            gke_accelerator="nvidia-b200",
            gpus_per_node=8,
            arch="amd64",
            network_profile="a4-gib-rdma",
            default_queue="a4-high",
        ),
        Accelerator(
            name="a4x",
            machine_type="a4x-highgpu-4g",
            gpu="4x NVIDIA GB200",
            gke_accelerator="nvidia-gb200",
            gpus_per_node=4,
            arch="arm64",
            network_profile="a4x-imex",
            default_queue="a4x",
        ),
    )
}
