"""Per-framework defaults: the second layer under a recipe file.

What a framework implies for every recipe that uses it: the port and health endpoint of its
server, the arguments every deployment needs (SGLang must bind 0.0.0.0, see
reference/gpu-recipes.md 0.1 item 2), its benchmark client and how its image is obtained.
"""

from __future__ import annotations

FRAMEWORK_DEFAULTS: dict[str, dict] = {
    "sglang": {
        "image": {"build": "sglang", "repository": "sglang"},
        "serving": {"port": 30000, "health_path": "/health", "args": {"host": "0.0.0.0"}},
        "benchmark": {"tool": "sglang-bench-serving"},
        "topology": {"shape": "single-host"},
    },
    "vllm": {
        "image": {"build": "vllm", "repository": "vllm-openai"},
        "serving": {"port": 8000, "health_path": "/health", "args": {"host": "0.0.0.0", "port": 8000}},
        "benchmark": {"tool": "vllm-benchmark-serving"},
        "topology": {"shape": "single-host"},
    },
    "trtllm": {
        # The NGC image is used as published: nothing to build (gpu-recipes.md 3.2).
        "image": {"build": None, "repository": "nvcr.io/nvidia/tensorrt-llm/release"},
        "serving": {"port": 0, "health_path": ""},
        "benchmark": {"tool": "trtllm-bench"},
        "topology": {"shape": "offline"},
        "secrets": {"ngc": False},
    },
    "dynamo": {
        "image": {"build": "dynamo-sglang", "repository": "dynamo-sglang"},
        "serving": {"port": 8000, "health_path": "/health", "env": {
            # the worker environment of the upstream chart (gpu-recipes.md 4.4), common to all roles
            "LD_LIBRARY_PATH": "/usr/local/ucx/lib:/usr/local/ucx/lib/ucx:/opt/nvidia/nvda_nixl/lib/aarch64-linux-gnu:"
                               "/opt/nvidia/nvda_nixl/lib/aarch64-linux-gnu/plugins:/usr/local/nvidia/lib64",
            "GLOO_SOCKET_IFNAME": "eth0", "TP_SOCKET_IFNAME": "eth0", "PYTHONUNBUFFERED": "1",
            "DYN_SKIP_SGLANG_LOG_FORMATTING": "1",
            "SGLANG_DISAGGREGATION_HEARTBEAT_MAX_FAILURE": "100000",
            "SGLANG_DISAGGREGATION_BOOTSTRAP_TIMEOUT": "100000", "SGLANG_DISAGGREGATION_WAITING_TIMEOUT": "100000",
            "SGLANG_MOONCAKE_CUSTOM_MEM_POOL": "True", "SGLANG_USE_MESSAGE_QUEUE_BROADCASTER": "0",
            "SGLANG_DISABLE_TP_MEMORY_INBALANCE_CHECK": "1", "MC_TE_METRIC": "true", "MC_FORCE_MNNVL": "1",
            "NCCL_MNNVL_ENABLE": "1", "NCCL_CUMEM_ENABLE": "1",
        }},
        "benchmark": {"tool": "aiperf"},
        "topology": {"shape": "disaggregated"},
        # the frontend and platform images come from nvcr.io (gpu-recipes.md 4.7)
        "secrets": {"ngc": True},
    },
}
