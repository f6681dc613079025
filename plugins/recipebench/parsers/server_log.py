"""What a GPU container's log says about its start: the environment block it printed first
(catalog.environment) and when the framework had its weights loaded.

Logs are read with the kubelet's timestamps (pods/log ?timestamps=true puts an RFC 3339 time with
nanoseconds and a space before every line), so times come from the node's clock and not from each
framework's own log format (vLLM's has no year).
"""

from __future__ import annotations

import datetime as dt
import re

from recipebench.catalog import environment

_STAMP = re.compile(r"^(?P<t>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) (?P<line>.*)$")

# The line each framework logs once its weights are on the GPUs, in the versions the recipes pin:
#   SGLang  "Load weight end. type=..., dtype=..., avail mem=... GB, mem usage=... GB." (python/sglang/srt/
#           model_executor/model_runner.py, ModelRunner.load_model); Dynamo's SGLang workers run the same.
#   vLLM    "Model loading took %.4f GiB and %.6f seconds" (vllm/v1/worker/gpu_model_runner.py,
#           GPUModelRunner.load_model).
#   trtllm  offline: the Job's script downloads the weights first and says so (our own line,
#           manifests.render._offline_script); trtllm-bench's load is then part of its measured run.
WEIGHTS_LOADED: dict[str, re.Pattern] = {
    "sglang": re.compile(r"Load weight end\. type="),
    "dynamo": re.compile(r"Load weight end\. type="),
    "vllm": re.compile(r"Model loading took [\d.]+ GiB and [\d.]+ seconds"),
    "trtllm": re.compile(re.escape(environment.WEIGHTS_DOWNLOADED)),
}


def rfc3339(text: str | None) -> float | None:
    """Epoch seconds of a Kubernetes time (metav1.Time, or the kubelet's log stamp); None if absent or unreadable.
    Python 3.11's fromisoformat reads Z and drops a fraction's digits past microseconds (the kubelet writes ns)."""
    try:
        return dt.datetime.fromisoformat(text).timestamp() if text else None
    except ValueError:
        return None


def timestamped(text: str) -> list[tuple[float | None, str]]:
    """(epoch seconds or None, line) per log line; None where the line carries no kubelet timestamp."""
    out: list[tuple[float | None, str]] = []
    for raw in text.splitlines():
        m = _STAMP.match(raw)
        out.append((rfc3339(m["t"]), m["line"]) if m else (None, raw))
    return out


def environment_block(lines: list[tuple[float | None, str]]) -> dict | None:
    """The last environment block of a log (a restarted container prints a new one), as
    {"gpus": [{index, name, driver_version, memory}], "python": ..., "packages": {...}, "errors": [...]};
    None when the log has none (an image started before the probe existed, a log rotated away)."""
    start = end = None
    for i, (_, line) in enumerate(lines):
        if line.strip() == environment.BEGIN:
            start, end = i, None
        elif line.strip() == environment.END and start is not None:
            end = i
    if start is None or end is None:
        return None
    block: dict = {"gpus": [], "packages": {}, "errors": []}
    for _, line in lines[start + 1:end]:
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "gpu":
            fields = [f.strip() for f in value.split(",")]
            if len(fields) == 4 and fields[0].isdigit():
                block["gpus"].append({"index": int(fields[0]), "name": fields[1], "driver_version": fields[2],
                                      "memory": fields[3]})
            else:  # nvidia-smi's own complaint ("NVIDIA-SMI has failed because ...")
                block["errors"].append(f"nvidia-smi: {value}")
        elif key.startswith("package "):
            block["packages"][key.removeprefix("package ").strip()] = value
        elif key == "error":
            block["errors"].append(value)
        elif key in ("python", "torch", "cuda", "nccl"):
            block[key] = value if value != "None" else None
    return block


def weights_loaded_at(framework: str, lines: list[tuple[float | None, str]]) -> float | None:
    """When the framework's weights-loaded line was logged (the last, after a restart); None: not seen."""
    pattern = WEIGHTS_LOADED.get(framework)
    found = [t for t, line in lines if pattern is not None and t is not None and pattern.search(line)]
    return found[-1] if found else None
