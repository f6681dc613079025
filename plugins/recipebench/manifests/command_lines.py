"""The command lines of servers, workers and benchmark clients, per framework and tool.

Pure functions: recipe (and point) in, argv or shell script out. Templates place them in the
containers; nothing here touches Kubernetes.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from recipebench.catalog.recipe import BenchmarkPoint, LengthSpec, Recipe
from recipebench.catalog.tools import AIPERF_VERSION  # noqa: F401  (the client's flags below are 0.13.0's)

CONFIG_DIR = "/workload/configs"  # where the run's ConfigMap is mounted
RESULTS_DIR = "/results"
MODEL_MOUNT = "/data/model"  # GCS FUSE mount of pre-staged weights

# A benchmark pod prints each result file between these lines, then a manifest of what it printed,
# so the output can be collected from the pod log alone (no bucket or exec needed) and a log that
# kubelet rotated or cut is detected instead of half-parsed (pipeline.collect).
BEGIN = "=== recipebench output begin: {name} ==="
END = "=== recipebench output end: {name} ==="
MANIFEST = "=== recipebench outputs: {entries} ==="  # entries: name:bytes:sha256:encoding, comma-separated
INLINE_LIMIT = 1 << 20  # larger files are printed gzip-compressed and base64-encoded

# What each tool writes that is worth keeping, best first; nothing else is printed (AIPerf also
# writes inputs.json with every prompt, far larger than the results). {point} is the point id.
RESULT_FILES: dict[str, tuple[str, ...]] = {
    "sglang-bench-serving": ("result.jsonl",),
    "vllm-benchmark-serving": ("result.json",),
    "vllm-bench-serve": ("result.json",),
    "aiperf": ("profile_export_aiperf.json", "profile_export_aiperf.csv"),
    "trtllm-bench": ("{point}.json", "{point}.txt"),
}


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


def shell_preamble(library_path: list[str], init_script: str | None = None) -> str:
    """What every GPU container's shell runs first: the network profile's init script, then the
    library folders put in front of the image's LD_LIBRARY_PATH (extended, never replaced: the NGC
    images keep CUDA compat and TensorRT folders there)."""
    lines = ["set -e"]
    if init_script:
        lines.append(f"source {init_script}")
    if library_path:
        folders = ":".join(dict.fromkeys(library_path))  # in order, once each
        lines.append(f'export LD_LIBRARY_PATH={folders}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}')
    return "\n".join(lines) + "\n"


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


def worker_script(recipe: Recipe, role: str, preamble: str) -> tuple[str, dict[str, str]]:
    """The worker as ONE shell script argument ending in `exec python3 -m dynamo.sglang ...`.

    For multi-node workers the Dynamo operator adds --dist-init-addr/--nnodes/--node-rank itself
    (deploy/cloud/operator/internal/dynamo: SGLangBackend.UpdateContainer -> getMultinodeFlags and
    injectFlagsIntoContainerCommand), and only in two forms: command[0] is a python interpreter, or
    one args string contains `python... sglang`. A python call split over separate args matches
    neither and the worker starts on one node's GPUs. The simulator applies the same rule
    (sim/dynamo.py).
    """
    argv, files = worker_argv(recipe, role)
    return f"{preamble}exec {shlex.join(argv)}\n", files


def length_flags(tool: str, lengths: LengthSpec, point: BenchmarkPoint) -> list[str]:
    """The recipe's length distribution in each tool's own terms (one place for all tools).

    sglang.bench_serving: uniform in [int(L*r), L] for --random-range-ratio r; 1 means fixed
      (python/sglang/bench_serving.py, sample_random_requests).
    vLLM (RandomDataset since PR #16126, April 2025; v0.9.1 has it): uniform in [X(1-b), X(1+b)]
      and asserts b < 1, so [rL, L] is centre X = L(1+r)/2 with b = (L-X)/X; fixed is b = 0
      (vllm/benchmarks/datasets.py, RandomDataset.sample).
    AIPerf 0.13: --isl/--osl are the means; --random-range-ratio r with --random-corpus-style sglang
      draws from [max(1, int(mean*r)), mean].
    trtllm-bench prepare_dataset.py: token-norm-dist with stdev 0 (fixed) or token-unif-dist with
      inclusive min and max.
    """
    i, o, r = point.input_len, point.output_len, lengths.min_fraction
    if tool == "sglang-bench-serving":
        return ["--random-input-len", str(i), "--random-output-len", str(o), "--random-range-ratio", f"{r or 1:g}"]
    if tool in ("vllm-benchmark-serving", "vllm-bench-serve"):
        if r is None:
            return ["--random-input-len", str(i), "--random-output-len", str(o), "--random-range-ratio", "0"]
        ci, co = _vllm_centre(i, r), _vllm_centre(o, r)
        # one ratio serves both lengths: the smaller of the two keeps both windows inside [rL, L]
        b = min((i - ci) / ci, (o - co) / co)
        return ["--random-input-len", str(ci), "--random-output-len", str(co), "--random-range-ratio",
                f"{int(b * 1e6) / 1e6:.6f}"]  # rounded down: X(1+b) never exceeds L
    if tool == "aiperf":
        flags = ["--isl", str(i), "--osl", str(o)]
        return flags if r is None else [*flags, "--random-range-ratio", f"{r:g}", "--random-corpus-style", "sglang"]
    if tool == "trtllm-bench":
        if r is None:
            return ["token-norm-dist", f"--input-mean={i}", f"--output-mean={o}", "--input-stdev=0", "--output-stdev=0"]
        return ["token-unif-dist", f"--input-min={lengths.shortest(i)}", f"--input-max={i}",
                f"--output-min={lengths.shortest(o)}", f"--output-max={o}"]
    raise ValueError(f"no length translation for tool {tool}")


def _vllm_centre(length: int, r: float) -> int:
    return max(1, int(length * (1 + r) / 2))


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
               *length_flags("trtllm-bench", recipe.benchmark.lengths, point)[:1],
               f"--num-requests={point.num_prompts}", *length_flags("trtllm-bench", recipe.benchmark.lengths, point)[1:]]
    return (f"{shlex.join(prepare)} > {dataset}\n"
            f"{shlex.join(bench)} 2>&1 | tee {RESULTS_DIR}/{point.id}.txt\n")


def client_argv(recipe: Recipe, point: BenchmarkPoint, host: str, port: int) -> list[str]:
    """The framework's own benchmark client against the in-cluster Service."""
    tool = recipe.benchmark.tool
    extra, _ = to_flags(recipe.benchmark.extra_args)
    lengths = length_flags(tool, recipe.benchmark.lengths, point)
    if tool == "sglang-bench-serving":
        argv = ["python3", "-m", "sglang.bench_serving", "--backend", "sglang", "--host", host, "--port", str(port),
                "--dataset-name", recipe.benchmark.dataset, *lengths,
                "--num-prompts", str(point.num_prompts), "--output-file", f"{RESULTS_DIR}/result.jsonl"]
    elif tool in ("vllm-benchmark-serving", "vllm-bench-serve"):
        head = (["python3", "/workspace/vllm/benchmarks/benchmark_serving.py"] if tool == "vllm-benchmark-serving"
                else ["vllm", "bench", "serve"])
        argv = [*head, "--backend", "vllm", "--base-url", f"http://{host}:{port}", "--model", recipe.served_model_name,
                "--dataset-name", recipe.benchmark.dataset, *lengths,
                "--num-prompts", str(point.num_prompts), "--ignore-eos",
                "--percentile-metrics", "ttft,tpot,itl,e2el", "--metric-percentiles", "50,90,99",
                "--save-result", "--result-dir", RESULTS_DIR, "--result-filename", "result.json"]
    elif tool == "aiperf":
        # ignore_eos, as the upstream recipe's client (--ignore-eos): every request runs to its length
        argv = ["aiperf", "profile", "--model", recipe.served_model_name, "--tokenizer", recipe.model.name,
                "--url", f"http://{host}:{port}", "--endpoint-type", recipe.benchmark.endpoint, "--streaming",
                *lengths, "--request-count", str(point.num_prompts), "--extra-inputs", "ignore_eos:true",
                "--export-level", "summary", "--ui-type", "none", "--artifact-dir", RESULTS_DIR]
    else:
        raise ValueError(f"{tool} is not a serving benchmark client")
    if point.concurrency:
        argv += ["--concurrency" if tool == "aiperf" else "--max-concurrency", str(point.concurrency)]
    if point.request_rate:
        argv += ["--request-rate", f"{point.request_rate:g}"]
    return argv + extra


def client_script(recipe: Recipe, point: BenchmarkPoint, host: str, port: int) -> str:
    """Shell around the client: run it, then print its result files between markers."""
    return (
        "set -u -o pipefail\n"
        f"mkdir -p {RESULTS_DIR}\n"
        f"{shlex.join(client_argv(recipe, point, host, port))}\n"
        "status=$?\n"
        f"{print_results_script(result_files(recipe.benchmark.tool, [point.id]))}"
        "exit $status\n"
    )


def result_files(tool: str, point_ids: list[str]) -> list[str]:
    return [name.format(point=p) for p in point_ids for name in RESULT_FILES[tool]]


def print_results_script(names: list[str]) -> str:
    """Print each named result file that exists (found anywhere under RESULTS_DIR) between markers,
    then one manifest line: name, size, sha256 and encoding of every file printed."""
    begin, end = BEGIN.format(name="$name"), END.format(name="$name")
    return (
        "manifest=\"\"\n"
        f"for name in {' '.join(shlex.quote(n) for n in names)}; do\n"
        f"  f=$(find {RESULTS_DIR} -type f -name \"$name\" | sort | head -n 1)\n"
        "  [ -n \"$f\" ] || continue\n"
        "  size=$(stat -c %s \"$f\"); sum=$(sha256sum \"$f\" | cut -d' ' -f1)\n"
        f"  if [ \"$size\" -gt {INLINE_LIMIT} ]; then enc=gzip+base64; else enc=plain; fi\n"
        f"  echo \"{begin}\"\n"
        "  if [ $enc = plain ]; then cat \"$f\"; echo; else gzip -n -c \"$f\" | base64 -w 0; echo; fi\n"
        f"  echo \"{end}\"\n"
        "  manifest=\"$manifest${manifest:+,}$name:$size:$sum:$enc\"\n"
        "done\n"
        f"echo \"{MANIFEST.format(entries='$manifest')}\"\n"
    )


# ---- the framing, read back ---------------------------------------------------------------------------


class OutputsIncomplete(ValueError):
    """The pod log does not hold every result file the pod printed, whole; says which and why."""


def frame_outputs(files: dict[str, str]) -> list[str]:
    """The log lines print_results_script writes for these files (the simulator prints with this;
    tests check it against the shell script itself)."""
    import base64
    import gzip
    import hashlib

    lines, entries = [], []
    for name, text in files.items():
        data = text.encode()
        enc = "gzip+base64" if len(data) > INLINE_LIMIT else "plain"
        body = text.split("\n") if enc == "plain" else [base64.b64encode(gzip.compress(data, mtime=0)).decode()]
        lines += [BEGIN.format(name=name), *body, END.format(name=name)]
        entries.append(f"{name}:{len(data)}:{hashlib.sha256(data).hexdigest()}:{enc}")
    return lines + [MANIFEST.format(entries=",".join(entries))]


def unframe_outputs(log: str) -> dict[str, str]:
    """Every file a pod printed, checked against its manifest line; OutputsIncomplete when the log
    has no manifest (the pod was cut off while printing), lost a file's beginning (kubelet rotated
    the log: it keeps only the newest containerLogMaxSize, 10 MiB by default) or a file differs."""
    import base64
    import gzip
    import hashlib
    import re

    lines = log.split("\n")
    manifest = next((ln for ln in reversed(lines) if ln.startswith("=== recipebench outputs: ")), None)
    if manifest is None:
        raise OutputsIncomplete("the pod log has no output manifest: the client was cut off before it finished "
                                "printing its result files")
    entries = [e for e in manifest[len("=== recipebench outputs: "):-len(" ===")].split(",") if e]
    begin = re.compile("^" + re.escape(BEGIN).replace(r"\{name\}", "(?P<name>.+)") + "$")
    bodies: dict[str, list[str]] = {}
    current: str | None = None
    for line in lines:
        m = begin.match(line)
        if m:
            current, bodies[m["name"]] = m["name"], []
        elif current is not None and line == END.format(name=current):
            current = None
        elif current is not None:
            bodies[current].append(line)
    files = {}
    for entry in entries:
        name, size, digest, enc = entry.rsplit(":", 3)
        if "/" in name or "\\" in name or name in (".", "..") or not name:
            # the name becomes a file under the run's artifacts: a pod must not choose where
            raise OutputsIncomplete(f"the pod printed a result file named {name[:80]!r}: a result file's name may "
                                    "not hold a path separator")
        if name not in bodies:
            raise OutputsIncomplete(f"{name} ({size} bytes) is missing from the pod log: kubelet keeps only the newest "
                                    "10 MiB of a container's log by default, so the log was rotated or cut before "
                                    "it could be collected")
        body = bodies[name]
        if enc == "gzip+base64":
            candidates = [gzip.decompress(base64.b64decode("".join(body))).decode(errors="replace")]
        else:  # `cat f; echo`: the last line is empty exactly when the file ended with a newline
            candidates = ["\n".join(body), "\n".join(body[:-1]) + "\n"] if body and body[-1] == "" else ["\n".join(body)]
        text = next((c for c in candidates if hashlib.sha256(c.encode()).hexdigest() == digest), None)
        if text is None:
            raise OutputsIncomplete(f"{name} in the pod log differs from the file the pod printed ({size} bytes, "
                                    f"sha256 {digest[:12]}...): the log was altered or cut")
        files[name] = text
    return files
