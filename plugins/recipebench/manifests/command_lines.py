"""The command lines of servers, workers and benchmark clients, per framework and tool.

Pure functions: recipe (and point) in, argv out. Templates place these lists in the
containers; nothing here touches Kubernetes.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from recipebench.catalog.recipe import BenchmarkPoint, Recipe

CONFIG_DIR = "/workload/configs"  # where the run's ConfigMap is mounted
RESULTS_DIR = "/results"
MODEL_MOUNT = "/data/model"  # GCS FUSE mount of pre-staged weights
AIPERF_VERSION = "0.8.0"

# A benchmark pod prints each result file between these lines, so the output can be
# collected from the pod log alone (no bucket or exec needed).
BEGIN = "=== recipebench output begin: {name} ==="
END = "=== recipebench output end: {name} ==="


def to_flags(args: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """One mechanism for every framework: `key: value` -> `--key value`.

    True -> bare `--key`; False/None -> omitted (store_true flags take no value); a list ->
    `--key a b`; a mapping -> written as a JSON file in the run's ConfigMap, flag = its path
    (TRT-LLM's --extra_llm_api_options and SGLang's --deepep-config both accept a file).
    """
    flags: list[str] = []
    files: dict[str, str] = {}
    for key, value in args.items():
        flag = f"--{key}"
        if value is None or value is False:
            continue
        if value is True:
            flags.append(flag)
        elif isinstance(value, dict):
            filename = f"{key.replace('_', '-')}.json"
            files[filename] = json.dumps(value, indent=2, sort_keys=True) + "\n"
            flags += [flag, f"{CONFIG_DIR}/{filename}"]
        elif isinstance(value, list):
            flags += [flag, *(str(v) for v in value)]
        else:
            flags += [flag, str(value)]
    return flags, files


def model_path(recipe: Recipe) -> str:
    if recipe.model.source == "gcs":
        return f"{MODEL_MOUNT}/{recipe.model.name}"
    return recipe.model.name


def _with_port(recipe: Recipe, args: dict[str, Any]) -> dict[str, Any]:
    return args if "port" in args else {**args, "port": recipe.serving.port}


def server_argv(recipe: Recipe) -> tuple[list[str], dict[str, str]]:
    """argv of the serving container (single- and multi-host) and the files its flags refer to."""
    flags, files = to_flags(_with_port(recipe, recipe.serving.args))
    if recipe.framework == "sglang":
        argv = ["python3", "-m", "sglang.launch_server", "--model-path", model_path(recipe), *flags]
        if recipe.topology.shape == "multi-host":
            # LeaderWorkerSet injects these; Kubernetes expands $(VAR) in args
            argv += ["--dist-init-addr", "$(LWS_LEADER_ADDRESS):6002", "--nnodes", "$(LWS_GROUP_SIZE)",
                     "--node-rank", "$(LWS_WORKER_INDEX)"]
        return argv, files
    if recipe.framework == "vllm":
        return ["vllm", "serve", model_path(recipe), *flags], files
    raise ValueError(f"{recipe.framework} has no long-running server of the {recipe.topology.shape} shape")


def worker_argv(recipe: Recipe, role: str) -> tuple[list[str], dict[str, str]]:
    """A Dynamo SGLang worker: the shared args, then the role's own, then its disaggregation mode."""
    spec = getattr(recipe.topology, role)
    flags, files = to_flags({**recipe.serving.args, **spec.args, "disaggregation-mode": role})
    return ["python3", "-m", "dynamo.sglang", "--model-path", model_path(recipe), *flags], files


def trtllm_point_script(recipe: Recipe, point: BenchmarkPoint) -> str:
    """Prepare the dataset of one point and run trtllm-bench on it, keeping text and JSON reports."""
    flags, _ = to_flags(recipe.serving.args)
    model = recipe.model.name
    dataset = f"/ssd/dataset-{point.id}.json"
    bench = ["trtllm-bench", "--model", model, "--model_path", f"/ssd/{model}", "throughput",
             "--dataset", dataset, "--num_requests", str(point.num_prompts),
             *(["--concurrency", str(point.concurrency)] if point.concurrency else []),
             *flags, "--report_json", f"{RESULTS_DIR}/{point.id}.json"]
    prepare = ["python3", "/app/tensorrt_llm/benchmarks/cpp/prepare_dataset.py", f"--tokenizer={model}", "--stdout",
               "token-norm-dist", f"--num-requests={point.num_prompts}", f"--input-mean={point.input_len}",
               f"--output-mean={point.output_len}", "--input-stdev=0", "--output-stdev=0"]
    return (f"{shlex.join(prepare)} > {dataset}\n"
            f"{shlex.join(bench)} 2>&1 | tee {RESULTS_DIR}/{point.id}.txt\n")


def client_argv(recipe: Recipe, point: BenchmarkPoint, host: str, port: int) -> list[str]:
    """The framework's own benchmark client against the in-cluster Service."""
    tool = recipe.benchmark.tool
    extra, _ = to_flags(recipe.benchmark.extra_args)
    served = str(recipe.serving.args.get("served-model-name", recipe.model.name))
    if tool == "sglang-bench-serving":
        argv = ["python3", "-m", "sglang.bench_serving", "--backend", "sglang", "--host", host, "--port", str(port),
                "--dataset-name", recipe.benchmark.dataset, "--random-input-len", str(point.input_len),
                "--random-output-len", str(point.output_len), "--random-range-ratio", f"{point.range_ratio:g}",
                "--num-prompts", str(point.num_prompts), "--output-file", f"{RESULTS_DIR}/result.jsonl"]
        if point.concurrency:
            argv += ["--max-concurrency", str(point.concurrency)]
        if point.request_rate:
            argv += ["--request-rate", f"{point.request_rate:g}"]
        return argv + extra
    if tool in ("vllm-benchmark-serving", "vllm-bench-serve"):
        head = (["python3", "/workspace/vllm/benchmarks/benchmark_serving.py"] if tool == "vllm-benchmark-serving"
                else ["vllm", "bench", "serve"])
        argv = [*head, "--backend", "vllm", "--base-url", f"http://{host}:{port}", "--model", recipe.model.name,
                "--dataset-name", recipe.benchmark.dataset, "--random-input-len", str(point.input_len),
                "--random-output-len", str(point.output_len), "--random-range-ratio", f"{point.range_ratio:g}",
                "--num-prompts", str(point.num_prompts), "--ignore-eos",
                "--percentile-metrics", "ttft,tpot,itl,e2el", "--metric-percentiles", "50,90,99",
                "--save-result", "--result-dir", RESULTS_DIR, "--result-filename", "result.json"]
        if point.concurrency:
            argv += ["--max-concurrency", str(point.concurrency)]
        if point.request_rate:
            argv += ["--request-rate", f"{point.request_rate:g}"]
        return argv + extra
    if tool == "aiperf":
        argv = ["aiperf", "profile", "--model", served, "--url", f"http://{host}:{port}", "--endpoint-type", "chat",
                "--streaming", "--synthetic-input-tokens-mean", str(point.input_len),
                "--synthetic-input-tokens-stddev", str(int(point.input_len * (1 - point.range_ratio) / 2)),
                "--output-tokens-mean", str(point.output_len), "--request-count", str(point.num_prompts),
                "--extra-inputs", "ignore_eos:true", "--extra-inputs", f"min_tokens:{point.output_len}",
                "--artifact-dir", RESULTS_DIR]
        if point.concurrency:
            argv += ["--concurrency", str(point.concurrency)]
        if point.request_rate:
            argv += ["--request-rate", f"{point.request_rate:g}"]
        return argv + extra
    raise ValueError(f"{tool} is not a serving benchmark client")


def client_script(recipe: Recipe, point: BenchmarkPoint, host: str, port: int) -> str:
    """Shell around the client: run it, then print every result file between markers."""
    install = (f"command -v aiperf >/dev/null || pip install --quiet aiperf=={AIPERF_VERSION}\n"
               if recipe.benchmark.tool == "aiperf" else "")
    return (
        "set -u -o pipefail\n"
        f"mkdir -p {RESULTS_DIR}\n"
        f"{install}"
        f"{shlex.join(client_argv(recipe, point, host, port))}\n"
        "status=$?\n"
        f"{print_results_script()}"
        "exit $status\n"
    )


def print_results_script() -> str:
    begin, end = BEGIN.format(name="$(basename \"$f\")"), END.format(name="$(basename \"$f\")")
    return (f"for f in $(find {RESULTS_DIR} -maxdepth 3 -type f \\( -name '*.json' -o -name '*.jsonl' "
            f"-o -name '*.txt' -o -name '*.csv' \\) | sort); do\n"
            f'  echo "{begin}"; cat "$f"; echo; echo "{end}"\n'
            "done\n")
