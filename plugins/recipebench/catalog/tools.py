"""The benchmark clients: which image each runs from, and so where it can run.

A client that is a module of the serving framework (sglang.bench_serving, vLLM's
benchmark_serving.py) runs from the server's own image, on the server's node: it must match the
server's version, and that node already holds the 20-30 GB image (the upstream recipes ran the
client inside the server pod). AIPerf is a standalone package: it runs from a small image of its
own, built once per version (include/cloudbuild/aiperf-client.yaml), on the cluster's CPU pool, so
it never needs a node that the server's GPUs occupy (on A4X the GPU nodes are the only arm64 nodes
and carry taints a client should not tolerate).
"""

from __future__ import annotations

from dataclasses import dataclass

# 0.13.0 is the first AIPerf release with sglang's length window (--random-range-ratio with
# --random-corpus-style sglang); 0.8 had only normal or discrete length distributions.
AIPERF_VERSION = "0.13.0"


@dataclass(frozen=True)
class ClientImage:
    repository: str  # inside the recipe's Artifact Registry
    tag: str
    build: str  # include/cloudbuild/<build>.yaml
    arch: str = "amd64"


OWN_IMAGE: dict[str, ClientImage] = {"aiperf": ClientImage("aiperf-client", AIPERF_VERSION, "aiperf-client")}
