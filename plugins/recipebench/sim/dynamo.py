"""What the Dynamo operator (0.7.0) does to a DynamoGraphDeployment's pods, that our manifests rely on.

Ported rules, from ai-dynamo/dynamo deploy/cloud/operator/internal/dynamo:
- SGLangBackend.UpdateContainer (backend_sglang.go): for a multi-node service, remove the probes of
  every worker rank but the leader, then inject --dist-init-addr/--nnodes/--node-rank;
- getMultinodeFlags: leader rank 0 without a shell; other ranks take their rank from
  GroveMultinodeDeployer.GetNodeRank ("$((GROVE_PCLQ_POD_INDEX + 1))"), which needs a shell;
  dist-init-addr is the leader's Grove hostname on port 29500 (SglangPort);
- injectFlagsIntoContainerCommand / injectFlagsIntoPythonCommand: when command[0] is a python
  interpreter, append to args (or wrap in `sh -c "exec ..."` when a shell is needed); otherwise try
  each args string with the regex below and stop at the first that changes; if none does, nothing
  is injected and the worker starts without its multi-node flags.
- before any pod, the operator creates the Grove PodCliqueSet (graph.go GenerateGrovePodCliqueSet:
  named after the DGD; a single-node service is the clique <svc>; a multi-node one the scaling group
  <svc> with cliques <svc>-ldr and <svc>-wkr), which Grove's webhook admits only while each pod's
  PodCliqueSet + PodCliqueScalingGroup + PodClique names total at most 45 characters
  (ai-dynamo/grove operator/internal/webhook/admission/pcs/validation/podcliqueset.go,
  validatePodNameConstraints); a refusal fails Reconcile, which records state "failed" and
  Ready=False with the error (dynamographdeployment_controller.go, Reconcile) and creates nothing.
The simulated kubelet then starts such a worker on its own node's GPUs, and it fails the way SGLang
does when its tensor-parallel ranks outnumber the GPUs it can see.
"""

from __future__ import annotations

import re

SGLANG_PORT = "29500"  # backend_sglang.go: SglangPort
PYTHON = re.compile(r"^python\d+(\.\d+)*$")


def is_python(cmd: str) -> bool:
    return cmd in ("python", "python3") or bool(PYTHON.match(cmd))


def podcliqueset_refusal(dgd: dict) -> str | None:
    """Grove's webhook answer to the PodCliqueSet the operator makes of this DGD (None: admitted): the
    names and the rule of shapes.disaggregated, which validation applies too."""
    from recipebench.shapes.disaggregated import graph_services, grove_refusals

    pcs = dgd["metadata"]["name"]
    errors = grove_refusals(pcs, graph_services(dgd))
    if not errors:
        return None
    return (f'admission webhook "pcs.validating.webhooks.grove.io" denied the request: '
            f"PodCliqueSet.grove.io \"{pcs}\" is invalid: " + "; ".join(errors))


def multinode_flags(service: str, node_count: int, rank: int) -> tuple[str, bool]:
    """(flags, needs shell) of one rank (getMultinodeFlags with the Grove deployer)."""
    leader = f"$(GROVE_PCSG_NAME)-$(GROVE_PCSG_INDEX)-{service.lower()}-ldr-0.$(GROVE_HEADLESS_SERVICE)"
    node_rank, shell = ("0", False) if rank == 0 else ("$((GROVE_PCLQ_POD_INDEX + 1))", True)
    return f"--dist-init-addr {leader}:{SGLANG_PORT} --nnodes {node_count} --node-rank {node_rank}", shell


def inject_into_python_command(arg: str, flags: str, framework: str = "sglang") -> str:
    pattern = re.compile(rf"(python[0-9.]*\s+[^|&;]*{framework}[^|&;]*?)(\s|$|[|&;])")
    return pattern.sub(lambda m: f"{m.group(1)} {flags}{m.group(2)}", arg)


def inject_flags(container: dict, flags: str, needs_shell: bool, framework: str = "sglang") -> bool:
    """Mutate the container as the operator does; True when the flags went in."""
    command, args = list(container.get("command") or []), list(container.get("args") or [])
    if command and is_python(command[0]):
        if needs_shell:
            container["command"], container["args"] = ["sh", "-c"], [
                f"exec {' '.join(command)} {' '.join(args)} {flags}".replace("  ", " ")]
        else:
            container["args"] = args + flags.split()
        return True
    for i, arg in enumerate(args):
        changed = inject_into_python_command(arg, flags, framework)
        if changed != arg:
            args[i] = changed
            container["args"] = args
            return True
    return False


def update_container(container: dict, service: str, node_count: int, rank: int) -> None:
    """SGLangBackend.UpdateContainer for one pod of a service."""
    if node_count <= 1:
        return
    if rank > 0:  # RoleWorker: the operator removes its probes
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            container.pop(probe, None)
    flags, shell = multinode_flags(service, node_count, rank)
    inject_flags(container, flags, shell)


TP = re.compile(r"--(?:tp-size|tensor-parallel-size|tp)[ =](\d+)")
NNODES = re.compile(r"--nnodes[ =](\S+)")


def command_text(container: dict) -> str:
    return " ".join([*(container.get("command") or []), *(container.get("args") or [])])


def missing_gpus(container: dict, gpus: int, env: dict[str, str] | None = None) -> str | None:
    """The error an SGLang server prints when its tensor-parallel ranks outnumber the GPUs of its
    nodes, or None when they fit. $(VAR) references take values from env (Kubernetes expands them)."""
    text = command_text(container)
    for name, value in (env or {}).items():
        text = text.replace(f"$({name})", value)
    tps, nodes = TP.findall(text), NNODES.findall(text)  # argparse: the last occurrence wins
    if not tps or "sglang" not in text:
        return None
    n = int(nodes[-1]) if nodes and nodes[-1].isdigit() else 1
    if int(tps[-1]) <= gpus * n:
        return None
    return (f"RuntimeError: CUDA error: invalid device ordinal (tensor parallel size {tps[-1]} on {n} node(s) "
            f"of {gpus} GPUs: no --nnodes reached this process)")
