"""What a run's environment is made of: the block every GPU container prints at start, and the fields
of it a team filters on.

The block is printed by the container's own shell before the framework starts (manifests.command_lines
.environment_probe), with the same library path as the server, so it names the NCCL the server loads,
and without any privilege the server does not already have. Its lines are `key: value`:

    gpu: 0, NVIDIA H200, 570.133.20, 143771 MiB     nvidia-smi --query-gpu=index,name,driver_version,
                                                    memory.total --format=csv,noheader (one per GPU)
    python: 3.12.3                                  platform.python_version()
    torch: 2.7.1+cu128                              torch.__version__
    cuda: 12.8                                      torch.version.cuda: the CUDA runtime torch was built for
    nccl: 2.26.2                                    torch.cuda.nccl.version(): the libnccl.so.2 the loader found
    package sglang: 0.4.9.post2                     importlib.metadata.version, per package of the framework
    error: ...                                      a probe step that failed (said, never fatal)

torch.cuda.nccl.version() decodes torch._C._nccl_version() into (major, minor, patch) (pytorch/pytorch
torch/cuda/nccl.py, version). vLLM's own NCCL wrapper opens the same soname, libnccl.so.2, unless
VLLM_NCCL_SO_PATH is set (vllm-project/vllm vllm/utils, find_nccl_library), so the loader's choice
under this library path is the framework's.
"""

from __future__ import annotations

BEGIN = "=== recipebench environment begin ==="
END = "=== recipebench environment end ==="
# an offline Job's script prints this once the weights are on the node (manifests.render._offline_script)
WEIGHTS_DOWNLOADED = "=== recipebench weights downloaded ==="

# the Python distributions whose versions say what the framework is, per recipe framework
PACKAGES: dict[str, tuple[str, ...]] = {
    "sglang": ("sglang", "sgl-kernel", "flashinfer-python"),
    "vllm": ("vllm", "flashinfer-python"),
    "trtllm": ("tensorrt_llm", "tensorrt"),
    # the Dynamo runtime image runs SGLang under dynamo.sglang
    "dynamo": ("ai-dynamo", "ai-dynamo-runtime", "sglang"),
}
# the package whose version is the run's server_version when the server reports none of its own
MAIN_PACKAGE = {"sglang": "sglang", "vllm": "vllm", "trtllm": "tensorrt_llm", "dynamo": "ai-dynamo"}

# The servers' own version reports, asked through the service proxy once the server is ready:
# SGLang's /get_server_info returns the server args with "version": __version__ (python/sglang/srt/
# entrypoints/http_server.py, get_server_info); vLLM's /version returns {"version": VLLM_VERSION}
# (vllm/entrypoints/openai/api_server.py, show_version). Dynamo's frontend is not asked: its version is
# its workers' ai-dynamo package, from the block. trtllm-bench is offline: no server to ask.
SERVER_VERSION_PATH = {"sglang": "/get_server_info", "vllm": "/version"}

# runs columns a team filters on, and the word the compare page and the alerts use for each
COLUMNS: dict[str, str] = {
    "driver_version": "driver",
    "cuda_version": "CUDA",
    "nccl_version": "NCCL",
    "server_version": "server",
    "node_image": "node image",
}

# GKE's node labels (cloud.google.com/gke-nodepool, the well-known node.kubernetes.io/instance-type)
NODE_POOL_LABEL = "cloud.google.com/gke-nodepool"
MACHINE_TYPE_LABEL = "node.kubernetes.io/instance-type"
