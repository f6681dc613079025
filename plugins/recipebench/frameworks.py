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
        "serving": {"port": 8000, "health_path": "/health"},
        "benchmark": {"tool": "aiperf"},
        "topology": {"shape": "disaggregated"},
        # the frontend and platform images come from nvcr.io (gpu-recipes.md 4.7)
        "secrets": {"ngc": True},
    },
}
