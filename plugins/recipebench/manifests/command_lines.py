"""The command lines of servers and workers per framework, and the shell around a benchmark client
(whose own command line is its class's: recipebench.clients).

Pure functions: recipe (and point) in, argv or shell script out. Templates place them in the
containers; nothing here touches Kubernetes.
"""

from __future__ import annotations

import shlex
from typing import Any

from recipebench.catalog import environment
from recipebench.catalog.flags import CONFIG_DIR, to_flags
from recipebench.catalog.recipe import BenchmarkPoint, Recipe
from recipebench.clients.base import RESULTS_DIR, STDOUT, tokenizer_dir
from recipebench.errors import RecipebenchError

__all__ = ["CONFIG_DIR", "RESULTS_DIR", "to_flags"]  # what templates and render take from here
MODEL_MOUNT = "/data/model"  # GCS FUSE mount of pre-staged weights

# A benchmark pod prints each result file between these lines, then a manifest of what it printed,
# so the output can be collected from the pod log alone (no bucket or exec needed) and a log that
# kubelet rotated or cut is detected instead of half-parsed (pipeline.collect).
BEGIN = "=== recipebench output begin: {name} ==="
END = "=== recipebench output end: {name} ==="
MANIFEST = "=== recipebench outputs: {entries} ==="  # entries: name:bytes:sha256:encoding, comma-separated
INLINE_LIMIT = 1 << 20  # larger files are printed gzip-compressed and base64-encoded


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


_PROBE_PY = """import importlib.metadata as md, platform
print("python:", platform.python_version())
for name in {packages}:
    try:
        print(f"package {{name}}:", md.version(name))
    except md.PackageNotFoundError:
        pass
try:
    import torch
    print("torch:", torch.__version__)
    print("cuda:", torch.version.cuda)
    print("nccl:", ".".join(str(n) for n in torch.cuda.nccl.version()[:3]))
except Exception as exc:
    print("error: torch:", type(exc).__name__, str(exc)[:200])
"""


def environment_probe(framework: str) -> str:
    """The lines a GPU container runs first: its environment between markers (catalog.environment),
    read from the pod log afterwards. Every step is bounded and allowed to fail: a probe must never
    keep the server from starting (the preamble runs under set -e)."""
    import json

    packages = json.dumps(list(environment.PACKAGES.get(framework, ())))  # double quotes: one shell quoting
    query = "index,name,driver_version,memory.total"
    smi = f"timeout 30 nvidia-smi --query-gpu={query} --format=csv,noheader"
    return "\n".join([
        f"echo {shlex.quote(environment.BEGIN)}",
        f"if command -v nvidia-smi >/dev/null; then {smi} 2>&1 | sed 's/^/gpu: /' || true; "
        "else echo 'error: nvidia-smi not found'; fi",
        f"timeout 120 python3 -c {shlex.quote(_PROBE_PY.format(packages=packages))} 2>&1 || echo 'error: probe exited '$?",
        f"echo {shlex.quote(environment.END)}",
    ]) + "\n"


def server_argv(recipe: Recipe) -> tuple[list[str], dict[str, str]]:
    """argv of the serving container (single- and multi-host) and the files its flags refer to."""
    flags, files = to_flags(_with_port(recipe, recipe.serving.args))
    if recipe.framework == "sglang":
        argv = ["python3", "-m", "sglang.launch_server", "--model-path", model_path(recipe), *flags]
        return argv + recipe.topology.kind.server_flags(recipe.framework), files
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


TRIALS_DIR = "/tmp/recipebench-trials"  # each trial's files, renamed t<k>.<name>, until they are printed
WARMUP_BEGIN = "=== recipebench warm-up: {n} requests, not measured ==="
WARMUP_DONE = "=== recipebench warm-up done: {n} requests, exit {status} ==="
TRIAL = "=== recipebench trial {k} of {repeats} ==="


def _marker(template: str, **groups: str):
    import re

    pattern = re.escape(template)
    for name, group in groups.items():
        pattern = pattern.replace(re.escape("{" + name + "}"), f"(?P<{name}>{group})")
    return re.compile(pattern)


_WARMUP_BEGIN = _marker(WARMUP_BEGIN, n=r"\d+")
_WARMUP_DONE = _marker(WARMUP_DONE, n=r"\d+", status=r"\d+")


def warmup_pass(script: str) -> int | None:
    """The requests of the warm-up pass a client script runs of its own (None: it runs none)."""
    found = _WARMUP_BEGIN.search(script)
    return int(found["n"]) if found else None


def warmup_done(log: str) -> tuple[int, int] | None:
    """(requests, exit status) of the warm-up pass, as the pod's log says it ended; None: it does not."""
    found = _WARMUP_DONE.search(log)
    return (int(found["n"]), int(found["status"])) if found else None


def client_script(recipe: Recipe, point: BenchmarkPoint, host: str, port: int) -> str:
    """Shell around the recipe's benchmark client (recipebench.clients): the warm-up, then the point's
    trials one after the other against the same server, each trial's files kept under its trial name
    (clients.base.trial_file), then every file printed between markers.

    The warm-up is the client's own option where the pinned version has one (its argv carries it);
    otherwise a pass of its own with the warm-up's number of prompts at the point's load, whose output
    is dropped. Either way the log says how many were sent and how the pass ended."""
    client = recipe.benchmark.client
    warmup = recipe.benchmark.warmup_for(point)
    lines = ["set -u -o pipefail", f"mkdir -p {RESULTS_DIR} {TRIALS_DIR}", "status=0"]
    if client.warmup_flags(warmup) is None:
        if warmup:
            warm = point.model_copy(update={"num_prompts": warmup})
            lines += [f"echo {shlex.quote(WARMUP_BEGIN.format(n=warmup))}",
                      f"{shlex.join(client.argv(recipe, warm, host, port))} > /tmp/warmup.log 2>&1; w=$?",
                      "tail -n 3 /tmp/warmup.log",
                      f"find {RESULTS_DIR} -mindepth 1 -delete"]
        else:
            lines.append("w=0")
        lines.append(f'echo "{WARMUP_DONE.format(n=warmup, status="$w")}"')
    argv = shlex.join(client.argv(recipe, point, host, port))
    repeats = recipe.benchmark.repeats
    for k in range(1, repeats + 1):
        lines += [f"echo {shlex.quote(TRIAL.format(k=k, repeats=repeats))}",
                  f"{argv} 2>&1 | tee /tmp/{STDOUT}; s=$?",
                  '[ "$s" -eq 0 ] || status=$s',
                  f"mv /tmp/{STDOUT} {RESULTS_DIR}/",
                  f'find {RESULTS_DIR} -type f | while read -r f; do mv "$f" "{TRIALS_DIR}/t{k}.$(basename "$f")"; done']
    return "\n".join(lines) + "\n" + print_results_script(client.files([point.id], repeats), TRIALS_DIR) \
        + "exit $status\n"


ACCURACY_DIR = "/accuracy"  # the run's accuracy ConfigMap: the client, its questions and few-shot examples
ACCURACY_OUTPUT = "accuracy.jsonl"


def accuracy_script(recipe: Recipe, host: str, port: int) -> str:
    """The accuracy check before the points (recipebench.accuracy): the project's GSM8K client against the
    server's /v1/completions, then its answers printed between markers like a point's files."""
    spec = recipe.accuracy
    assert spec is not None
    argv = ["python3", f"{ACCURACY_DIR}/gsm8k_client.py", "--base-url", f"http://{host}:{port}",
            "--model", recipe.served_model_name, "--questions", f"{ACCURACY_DIR}/test.jsonl",
            "--shots", f"{ACCURACY_DIR}/train.jsonl", "--num-shots", str(spec.shots),
            "--max-tokens", str(spec.max_tokens), "--concurrency", str(spec.concurrency),
            "--output", f"{RESULTS_DIR}/{ACCURACY_OUTPUT}"]
    return (f"set -u -o pipefail\nmkdir -p {RESULTS_DIR}\n{shlex.join(argv)}\nstatus=$?\n"
            f"{print_results_script([ACCURACY_OUTPUT])}exit $status\n")


def stage_script(recipe: Recipe) -> str:
    """What the clients read, fetched once into the bucket's client-data folder (mounted writable at
    CLIENT_DATA) unless already there: the tokenizer files of the model (not its weights) and the
    client's dataset files. Written to a temporary name first, so a half-finished copy never counts."""
    tok = tokenizer_dir(recipe)
    model = shlex.quote(recipe.model.name)
    lines = ["set -euo pipefail",
             f"if [ ! -f {tok}/tokenizer_config.json ]; then",
             f"  huggingface-cli download {model} --include '*.json' '*.model' '*.txt' '*.tiktoken' "
             f"--exclude '*.safetensors*' --local-dir {tok}.partial",
             f"  rm -rf {tok} && mv {tok}.partial {tok}",
             "fi",
             f"echo \"staged: tokenizer of {recipe.model.name} in {tok}\""]
    for f in recipe.benchmark.client.data_files(recipe):
        lines += [f"if [ ! -s {f.path} ]; then",
                  f"  mkdir -p $(dirname {f.path})",
                  f"  python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' "
                  f"{shlex.quote(f.url)} {f.path}.partial",
                  f"  mv {f.path}.partial {f.path}",
                  "fi",
                  f"echo \"staged: {f.name} in {f.path}\""]
    return "\n".join(lines) + "\n"


def print_results_script(names: list[str], root: str = RESULTS_DIR) -> str:
    """Print each named result file that exists (found anywhere under root) between markers, then one
    manifest line: name, size, sha256 and encoding of every file printed."""
    begin, end = BEGIN.format(name="$name"), END.format(name="$name")
    return (
        "manifest=\"\"\n"
        f"for name in {' '.join(shlex.quote(n) for n in names)}; do\n"
        f"  f=$(find {root} -type f -name \"$name\" | sort | head -n 1)\n"
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


class OutputsIncomplete(RecipebenchError, ValueError):
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
