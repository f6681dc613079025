"""The benchmark clients: one class per client, registered in one list.

Everything that depends on which client a recipe uses asks here: the recipe schema (which tools
exist, which need their own image), the manifests (command lines, result files, placement), the
collection of outputs (which file to parse, with which parser) and the simulator (what it prints).
Adding a client is one module with a BenchmarkClient subclass and one line in CLIENTS.
"""

from __future__ import annotations

from recipebench.catalog.registry import Registry
from recipebench.clients.aiperf import Aiperf
from recipebench.clients.base import BenchmarkClient, ClientImage, Measured
from recipebench.clients.sglang_bench_serving import SglangBenchServing
from recipebench.clients.trtllm_bench import TrtllmBench
from recipebench.clients.vllm import VllmBenchmarkServing, VllmBenchServe

CLIENTS: list[BenchmarkClient] = [SglangBenchServing(), VllmBenchmarkServing(), VllmBenchServe(), TrtllmBench(),
                                  Aiperf()]
REGISTRY = Registry("benchmark client", CLIENTS)


def names() -> list[str]:
    return REGISTRY.names()


def client(name: str) -> BenchmarkClient:
    return REGISTRY.get(name)


def register(new: BenchmarkClient) -> None:
    REGISTRY.register(new)


def running(script: str) -> BenchmarkClient | None:
    """The client a Job's script runs (the simulator's question), the most specific name first."""
    return next((c for c in sorted(REGISTRY.entries, key=lambda c: -len(c.runs)) if c.runs in script), None)


__all__ = ["CLIENTS", "BenchmarkClient", "ClientImage", "Measured", "client", "names", "register", "running"]
