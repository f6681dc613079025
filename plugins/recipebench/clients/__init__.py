"""The benchmark clients: one class per client, registered in one list.

Everything that depends on which client a recipe uses asks here: the recipe schema (which tools
exist, which need their own image), the manifests (command lines, result files, placement), the
collection of outputs (which file to parse, with which parser) and the simulator (what it prints).
Adding a client is one module with a BenchmarkClient subclass and one line in CLIENTS.
"""

from __future__ import annotations

from recipebench.clients.aiperf import Aiperf
from recipebench.clients.base import BenchmarkClient, ClientImage, Measured
from recipebench.clients.sglang_bench_serving import SglangBenchServing
from recipebench.clients.trtllm_bench import TrtllmBench
from recipebench.clients.vllm import VllmBenchmarkServing, VllmBenchServe

CLIENTS: list[BenchmarkClient] = [SglangBenchServing(), VllmBenchmarkServing(), VllmBenchServe(), TrtllmBench(),
                                  Aiperf()]


def names() -> list[str]:
    return [c.name for c in CLIENTS]


def client(name: str) -> BenchmarkClient:
    found = next((c for c in CLIENTS if c.name == name), None)
    if found is None:
        raise KeyError(f"no benchmark client {name!r} (known: {', '.join(names())})")
    return found


def running(script: str) -> BenchmarkClient | None:
    """The client a Job's script runs (the simulator's question), the most specific name first."""
    return next((c for c in sorted(CLIENTS, key=lambda c: -len(c.runs)) if c.runs in script), None)


def register(new: BenchmarkClient) -> None:
    """Add a client (a test's, or a site's own): its name must be new."""
    if new.name in names():
        raise ValueError(f"a benchmark client named {new.name!r} exists already")
    CLIENTS.append(new)


__all__ = ["CLIENTS", "BenchmarkClient", "ClientImage", "Measured", "client", "names", "register", "running"]
