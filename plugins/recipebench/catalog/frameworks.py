"""Per-framework defaults: the second layer under a recipe file.

What a framework implies for every recipe that uses it: the port and health endpoint of its
server, the arguments every deployment needs (SGLang must bind 0.0.0.0, see
SGLang's ServerArgs defaults host to 127.0.0.1, python/sglang/srt/server_args.py, and neither
gpu-recipes SGLang config sets it), its benchmark client and how its image is obtained.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FRAMEWORK_DEFAULTS: dict[str, dict] = {
    "sglang": {
        # built from gpu-recipes src/docker/sglang, whose requirements install hf_transfer
        "image": {"build": "sglang", "repository": "sglang", "hf_transfer": True},
        "serving": {"port": 30000, "health_path": "/health", "args": {"host": "0.0.0.0"}},
        "benchmark": {"tool": "sglang-bench-serving"},
        "topology": {"shape": "single-host"},
    },
    "vllm": {
        # built from gpu-recipes src/docker/vllm, whose requirements install hf-transfer
        "image": {"build": "vllm", "repository": "vllm-openai", "hf_transfer": True},
        "serving": {"port": 8000, "health_path": "/health", "args": {"host": "0.0.0.0", "port": 8000}},
        "benchmark": {"tool": "vllm-benchmark-serving"},
        "topology": {"shape": "single-host"},
    },
    "trtllm": {
        # The NGC image is used as published: nothing to build (gpu-recipes
        # inference/a4x/single-host-serving/tensorrt-llm/README.md). It is not known to ship
        # hf_transfer (the upstream launcher pip-installed it at start), so the download runs without it.
        "image": {"build": None, "repository": "nvcr.io/nvidia/tensorrt-llm/release", "hf_transfer": False},
        "serving": {"port": 0, "health_path": ""},
        "benchmark": {"tool": "trtllm-bench"},
        "topology": {"shape": "offline"},
        "secrets": {"ngc": False},
    },
    "dynamo": {
        # NGC's runtime image by default. A custom build (image.build: dynamo-sglang) runs upstream's
        # container/build.sh for linux/arm64: Dockerfile.sglang alone cannot be built (its base image comes
        # from build.sh's first stage and it defaults to ARCH=amd64).
        # Both run as the unprivileged user `dynamo`, uid 1000 (ai-dynamo/dynamo container/Dockerfile.sglang,
        # runtime stage: `useradd -m -s /bin/bash -g 0 dynamo`, checked to be uid 1000, then `USER dynamo`).
        "image": {"build": None, "repository": "nvcr.io/nvidia/ai-dynamo/sglang-runtime", "hf_transfer": False,
                  "user": 1000},
        "serving": {"port": 8000, "health_path": "/health",
                    # DeepEP/NVSHMEM need the devices: the upstream chart runs workers privileged
                    "privileged": True,
                    # the upstream chart's worker library path, now put in front of the image's own; it
                    # sources gIB's init script but leaves gIB's folder off the path
                    "network_library_path": False,
                    "library_path": ["/usr/local/ucx/lib", "/usr/local/ucx/lib/ucx",
                                     "/opt/nvidia/nvda_nixl/lib/aarch64-linux-gnu",
                                     "/opt/nvidia/nvda_nixl/lib/aarch64-linux-gnu/plugins", "/usr/local/nvidia/lib64"],
                    "env": {
            # the worker environment of the upstream chart (gpu-recipes
            # src/helm-charts/a4x/inference-templates/dynamo-deployment), common to all roles
            "GLOO_SOCKET_IFNAME": "eth0", "TP_SOCKET_IFNAME": "eth0", "PYTHONUNBUFFERED": "1",
            "DYN_SKIP_SGLANG_LOG_FORMATTING": "1",
            "SGLANG_DISAGGREGATION_HEARTBEAT_MAX_FAILURE": "100000",
            "SGLANG_DISAGGREGATION_BOOTSTRAP_TIMEOUT": "100000", "SGLANG_DISAGGREGATION_WAITING_TIMEOUT": "100000",
            "SGLANG_MOONCAKE_CUSTOM_MEM_POOL": "True", "SGLANG_USE_MESSAGE_QUEUE_BROADCASTER": "0",
            "SGLANG_DISABLE_TP_MEMORY_INBALANCE_CHECK": "1", "MC_TE_METRIC": "true", "MC_FORCE_MNNVL": "1",
            "NCCL_MNNVL_ENABLE": "1", "NCCL_CUMEM_ENABLE": "1",
        }},
        # upstream benchmarks the frontend's /v1/completions (the chat template would add tokens)
        "benchmark": {"tool": "aiperf", "endpoint": "completions"},
        "topology": {"shape": "disaggregated"},
        # the frontend and platform images come from nvcr.io (gpu-recipes
        # inference/a4x/disaggregated-serving/dynamo/README.md)
        "secrets": {"ngc": True},
    },
}


@dataclass(frozen=True)
class FlagStyle:
    separator: str  # between the lower-case words of a flag name

    @property
    def pattern(self) -> re.Pattern:
        return re.compile(rf"[a-z0-9]+({re.escape(self.separator)}[a-z0-9]+)*")

    def spelling(self, name: str) -> str:
        """The name as this style writes it."""
        return re.sub(r"[-_]+", self.separator, name.strip("-_")).lower()


KEBAB, SNAKE = FlagStyle("-"), FlagStyle("_")
# How each server's command line spells its flags. SGLang derives them from ServerArgs field names
# with dashes (python/sglang/srt/server_args.py: tp_size -> --tp-size), and dynamo.sglang passes
# them on to it; vLLM's documented flags are dashed (its FlexibleArgumentParser would also take
# underscores, but the checks here read the dashed names); trtllm-bench's click options are
# snake_case (tensorrt_llm/bench/benchmark/throughput.py: --kv_cache_free_gpu_mem_fraction).
FLAG_STYLE = {"sglang": KEBAB, "dynamo": KEBAB, "vllm": KEBAB, "trtllm": SNAKE}

# The flags that set tensor- and pipeline-parallel ranks, as the recipes may spell them (the first
# is the one named in messages): SGLang's tp-size with its alias and argparse's unique prefix
# (--tp), vLLM's long names and short -tp/-pp, trtllm-bench's --tp/--pp.
PARALLEL_FLAGS: dict[str, dict[str, tuple[str, ...]]] = {
    "sglang": {"tp": ("tp-size", "tp", "tensor-parallel-size"), "pp": ("pp-size", "pp", "pipeline-parallel-size")},
    "dynamo": {"tp": ("tp-size", "tp", "tensor-parallel-size"), "pp": ("pp-size", "pp", "pipeline-parallel-size")},
    "vllm": {"tp": ("tensor-parallel-size", "tp"), "pp": ("pipeline-parallel-size", "pp")},
    "trtllm": {"tp": ("tp",), "pp": ("pp",)},
}
