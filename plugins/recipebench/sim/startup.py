"""What a simulated GPU container prints as it starts: the environment block its probe prints
(catalog.environment; only where the container's script runs the probe), and its framework's
weights-loaded line in that framework's own words (parsers.server_log.WEIGHTS_LOADED cites them).

The versions are what the images of the recipes' era ship, written as the tools print them
(nvidia-smi's CSV, Python's version strings); they are a simulator's, never a measurement.
"""

from __future__ import annotations

import re

from recipebench.catalog import environment

DRIVER = "570.133.20"
NEW_DRIVER = "580.65.06"  # scenario driver-changed: the nodes' driver was upgraded
CUDA, NCCL, PYTHON, TORCH = "12.8", "2.26.2", "3.12.3", "2.7.1+cu128"
# nvidia-smi's name and memory.total of each accelerator's GPU (nvidia-smi --query-gpu=name,memory.total)
GPU_NAMES = {"nvidia-h200-141gb": ("NVIDIA H200", "143771 MiB"), "nvidia-h100-mega-80gb": ("NVIDIA H100 80GB HBM3",
                                                                                           "81559 MiB"),
             "nvidia-b200": ("NVIDIA B200", "183359 MiB"), "nvidia-gb200": ("NVIDIA GB200", "189471 MiB")}
# SGLang's server log (python/sglang/srt/model_executor/model_runner.py, ModelRunner.load_model) and
# vLLM's (vllm/v1/worker/gpu_model_runner.py, GPUModelRunner.load_model)
WEIGHTS_LINES = {
    "sglang": "[2026-01-01 00:00:00 TP0] Load weight end. type=DeepseekV3ForCausalLM, dtype=torch.bfloat16, "
              "avail mem=61.83 GB, mem usage=79.72 GB.",
    "vllm": "INFO 01-01 00:00:00 [gpu_model_runner.py:1595] Model loading took 79.7227 GiB and 312.508301 seconds",
    "trtllm": environment.WEIGHTS_DOWNLOADED,
}


def framework_of(command: str) -> str | None:
    """Which framework a container runs, from its command line."""
    if "dynamo.sglang" in command:
        return "dynamo"
    if "sglang.launch_server" in command:
        return "sglang"
    if "vllm serve" in command:
        return "vllm"
    if "trtllm-bench" in command or "huggingface-cli download" in command:
        return "trtllm"
    return None


def package_version(image: str | None) -> str:
    """The framework package's version an image of this tag would hold: the tag without its `v` and
    CUDA suffix (lmsysorg/sglang:v0.4.9.post2-cu126 -> 0.4.9.post2)."""
    tag = (image or "").rsplit("@", 1)[0].rsplit(":", 1)[-1] if ":" in (image or "") else "0.0.0"
    return re.sub(r"-(cu|py)\d+.*$", "", tag.lstrip("v")) or "0.0.0"


# the other packages of each family, at a version of the recipes' era
OTHER_PACKAGES = {"sgl-kernel": "0.1.4", "flashinfer-python": "0.2.5", "tensorrt": "10.11.0", "sglang": "0.5.1"}


def environment_block(command: str, image: str | None, gpu_product: str | None, gpus: int,
                      driver: str = DRIVER) -> list[str]:
    """The probe's output, as the probe itself prints it; nothing when the script runs no probe."""
    if environment.BEGIN not in command:
        return []
    framework = framework_of(command) or ""
    name, memory = GPU_NAMES.get(gpu_product or "", ("NVIDIA H100 80GB HBM3", "81559 MiB"))
    version = package_version(image)
    main = environment.MAIN_PACKAGE.get(framework)
    packages = [f"package {p}: {version if p == main or p == 'ai-dynamo-runtime' else OTHER_PACKAGES[p]}"
                for p in environment.PACKAGES.get(framework, ())]
    return [environment.BEGIN, *[f"gpu: {i}, {name}, {driver}, {memory}" for i in range(gpus)],
            f"python: {PYTHON}", *packages, f"torch: {TORCH}", f"cuda: {CUDA}", f"nccl: {NCCL}", environment.END]


def weights_line(command: str) -> str | None:
    framework = framework_of(command)
    return WEIGHTS_LINES.get("sglang" if framework == "dynamo" else framework or "")

