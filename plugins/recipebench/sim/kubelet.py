"""The simulated kubelet and controllers: pods for every workload, placed by the scheduler's rules
(sim/scheduler.py), built the way the real controllers build them (the Dynamo operator's rules in
sim/dynamo.py, LeaderWorkerSet's env injection), moved through scripted lifecycles.

Each workload keeps a serving state that the API server's service proxy answers from
(SimCluster.proxy): a server can answer its health probe before it serves the model, as a
Dynamo frontend does while its workers are still loading.

A scenario (RECIPEBENCH_SIM_SCENARIO when the workload is created) decides the lifecycle:
  ready (default) / ready-after-N  server pods become Ready after N simulated seconds (default 90)
  image-pull-failure               ErrImagePull, then ImagePullBackOff, with the registry's event
  crash-loop                       the server exits 1 every 30 s: CrashLoopBackOff, traceback in its log
  oom                              the server is OOM-killed (exit 137) and restarts
  unschedulable                    FailedScheduling, and the autoscaler says no node group fits
  capacity-wait-then-ready         Kueue holds the pods (scheduling gate), then a node scale-up, then Ready
  bench-job-failure                the benchmark client exits 1 (cannot reach the server)
  corrupt-output                   the benchmark client succeeds but its result files are cut off
  helm-failure                     a platform install (helm-runner Job) fails with helm's error
  health-before-load               pods Ready (health answers) but the model is served 10 minutes later
  model-never-served               pods Ready, /v1/models never lists the recipe's model
  completion-fails                 the model is listed but every completion answers 500
  log-rotated                      the benchmark client's log loses its beginning (kubelet rotation)
  slower-20                        everything works; per-token latencies are 25% longer, so output
                                   throughput is 20% lower (a regression to detect)
  driver-changed                   the GPU nodes run a newer NVIDIA driver (startup.NEW_DRIVER) and the server is
                                   20% slower on it, as slower-20: the compare page and the alert name the driver
  failed-3pct                      3% of each point's requests fail (an invalid point, not a regression)
  short-outputs                    the server stops every answer at half its asked length
  cold-first-trial                 the server stays slow for its first 1,500 requests (outputs.COLD_LONG),
                                   past any warm-up here: the first trial is slower than the others
  wrong-answers                    the server answers every accuracy question with text and no number, and
                                   its points run 30% faster: fast and wrong (the accuracy gate must catch it)
  api-500-on-delete, api-flaky     faults of the API server itself (server.Faults)
  rbac-shipped, rbac-missing-proxy the identity holds only the shipped Roles (minus services/proxy): the
                                   API server enforces RBAC and answers access reviews (sim/rbac.py)
Time is simulated: TIME_SCALE simulated seconds pass per real second.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import re
from typing import Any

from recipebench.sim import dynamo, outputs, startup
from recipebench.sim.scheduler import Node, gpu_request, only_capacity, place
from recipebench.sim.server import BY_PLURAL, ApiError, Store

SCENARIOS = ("ready", "image-pull-failure", "crash-loop", "oom", "unschedulable", "capacity-wait-then-ready",
             "bench-job-failure", "corrupt-output", "helm-failure", "health-before-load", "model-never-served",
             "completion-fails", "log-rotated", "api-500-on-delete", "api-flaky", "slower-20",
             "failed-3pct", "short-outputs", "cold-first-trial", "wrong-answers", "rbac-shipped",
             "rbac-missing-proxy", "saturates-early", "driver-changed")
DEFAULT_READY_AFTER = 90.0
BENCH_SECONDS = 120.0
HELM_SECONDS = 20.0
CAPACITY_GATE = 120.0  # Kueue admission
CAPACITY_SCALEUP = 300.0  # node ready after scale-up
LOAD_LAG = 600.0  # health-before-load: the model is served this long after the health probe answers
WEIGHTS_SHARE = 0.7  # of a server's start (after its container starts): weights; the rest is warm-up
REGISTER_LAG = 60.0  # Dynamo: workers register the model with the frontend after loading


# The uid each image family runs as when the pod does not set one (its Dockerfile's USER): the Dynamo
# runtime images run as `dynamo`, uid 1000 (ai-dynamo/dynamo container/Dockerfile.sglang, runtime
# stage); the SGLang, vLLM and TensorRT-LLM images as root.
IMAGE_USERS = (("ai-dynamo/", 1000), ("dynamo-sglang", 1000))


def container_uid(container: dict) -> int:
    uid = (container.get("securityContext") or {}).get("runAsUser")
    if uid is not None:
        return int(uid)
    image = str(container.get("image") or "")
    return next((u for fragment, u in IMAGE_USERS if fragment in image), 0)


def root_only_failure(container: dict) -> str | None:
    """What a script that runs ldconfig under `set -e` prints as a non-root user, before it exits 1."""
    script = "\n".join(str(x) for x in [*(container.get("command") or []), *(container.get("args") or [])])
    lines = [ln.strip() for ln in script.splitlines()]
    if container_uid(container) == 0 or not any(ln.startswith("set -e") for ln in lines):
        return None
    if any(ln == "ldconfig" or ln.startswith("ldconfig ") for ln in lines):
        return "/sbin/ldconfig.real: Can't create temporary cache file /etc/ld.so.cache~: Permission denied"
    return None


def parse_scenario(name: str | None) -> tuple[str, float]:
    name = (name or "ready").strip()
    m = re.fullmatch(r"ready-after-(\d+)(?:-seconds)?", name)
    if m:
        return "ready", float(m[1])
    if name not in SCENARIOS:
        raise ValueError(f"unknown simulator scenario {name!r}; known: ready-after-N, {', '.join(SCENARIOS)}")
    return name, DEFAULT_READY_AFTER


def _res(group: str, plural: str):
    return BY_PLURAL[(group, plural)]


PODS, EVENTS, SERVICES = _res("", "pods"), _res("", "events"), _res("", "services")
INSTALLS_CRDS = {"lws": ("leaderworkersets.leaderworkerset.x-k8s.io",),
                 "dynamo-crds": ("dynamographdeployments.nvidia.com", "dynamocomponentdeployments.nvidia.com")}
# what a release's templates create that helm refuses to adopt when it exists without helm's ownership
# metadata (helm/helm pkg/action/validate.go, existingResourceConflict and checkOwnership)
INSTALLS_DEPLOYMENTS = {"lws": ("lws-system", "lws-controller-manager"),
                        "dynamo-platform": ("dynamo-cloud", "dynamo-platform-dynamo-operator-controller-manager")}
WORKLOADS = [_res("apps", "deployments"), _res("leaderworkerset.x-k8s.io", "leaderworkersets"),
             _res("nvidia.com", "dynamographdeployments"), _res("batch", "jobs")]


class Kubelet:
    def __init__(self, store: Store, clock, nodes: list[Node]):
        self.store = store
        self.clock = clock  # simulated seconds since the sim started
        self.nodes = nodes
        self.scenarios: dict[str, tuple[str, float]] = {}  # workload uid -> scenario at creation
        self.served: dict[str, int] = {}  # run id -> requests its server has answered (cold-start model)
        self.born: dict[str, float] = {}  # pod uid -> simulated creation time
        self.bound: dict[str, float] = {}  # pod uid -> when the scheduler placed it (pod age)
        self.serving: dict[str, dict] = {}  # workload uid -> {"model", "served", "completions"}
        self.logged: set[tuple] = set()

    # -- objects ------------------------------------------------------------------------------
    def remember(self, obj: dict, scenario: str | None) -> None:
        uid = obj["metadata"]["uid"]
        if uid not in self.scenarios:
            self.scenarios[uid] = parse_scenario(scenario)

    def _owner(self, obj: dict) -> dict:
        return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
                "uid": obj["metadata"]["uid"], "controller": True}

    def _ensure_pod(self, owner: dict, name: str, meta: dict, spec: dict, labels: dict, role: str,
                    mutate=None) -> dict:
        """The pod a controller creates: the template's metadata and spec, our role label, and the
        controller's own changes to its container (mutate)."""
        ns = owner["metadata"]["namespace"]
        try:
            return self.store.get(PODS, ns, name)
        except ApiError:
            pass
        spec = copy.deepcopy(spec)
        if mutate:
            mutate(spec["containers"][0])
        pod_meta = {"name": name, "namespace": ns, "ownerReferences": [self._owner(owner)],
                    "annotations": dict(meta.get("annotations") or {}),
                    "labels": {**(meta.get("labels") or {}), **labels, "recipebench.sim/role": role}}
        pod = self.store.put(PODS, {"metadata": pod_meta, "spec": spec, "status": {"phase": "Pending"}}, create=True)
        self.born[pod["metadata"]["uid"]] = self.clock()
        return pod

    # -- controllers ----------------------------------------------------------------------------
    def tick(self) -> None:
        for res in WORKLOADS:
            for obj in self.store.list(res, None):
                try:
                    getattr(self, f"_reconcile_{res.plural}")(obj)
                except ApiError:
                    pass  # deleted while reconciling

    def _reconcile_deployments(self, dep: dict) -> None:
        name = dep["metadata"]["name"]
        tmpl = dep["spec"]["template"]
        pod = self._ensure_pod(dep, f"{name}-{_hash(name)}", tmpl.get("metadata") or {}, tmpl["spec"], {}, "server")
        health, loaded = self._serve(pod, dep)
        self._serving(dep, [pod], health, loaded)
        status = {"replicas": 1, "readyReplicas": int(health), "availableReplicas": int(health),
                  "conditions": [{"type": "Available", "status": str(health), "reason": "MinimumReplicasAvailable"
                                  if health else "MinimumReplicasUnavailable"}]}
        self._status(dep, status)

    def _reconcile_leaderworkersets(self, lws: dict) -> None:
        name = lws["metadata"]["name"]
        tmpl = lws["spec"]["leaderWorkerTemplate"]
        size = tmpl["size"]
        base = {"leaderworkerset.sigs.k8s.io/name": name, "leaderworkerset.sigs.k8s.io/group-index": "0"}

        def lws_env(index: int):
            # kubernetes-sigs/lws pkg/webhooks/pod_webhook.go PodWebhook.Default -> podutils.AddLWSVariables
            values = {"LWS_LEADER_ADDRESS": f"{name}-0.{name}.{lws['metadata']['namespace']}",
                      "LWS_GROUP_SIZE": str(size), "LWS_WORKER_INDEX": str(index)}

            def mutate(container):
                have = {e["name"] for e in container.get("env") or []}
                container["env"] = [*(container.get("env") or []),
                                    *({"name": k, "value": v} for k, v in values.items() if k not in have)]
            return mutate

        pods = [self._ensure_pod(lws, f"{name}-0", tmpl["leaderTemplate"].get("metadata") or {},
                                 tmpl["leaderTemplate"]["spec"], {**base, "leaderworkerset.sigs.k8s.io/worker-index": "0"},
                                 "leader", lws_env(0))]
        pods += [self._ensure_pod(lws, f"{name}-0-{i}", tmpl["workerTemplate"].get("metadata") or {},
                                  tmpl["workerTemplate"]["spec"],
                                  {**base, "leaderworkerset.sigs.k8s.io/worker-index": str(i)}, "worker", lws_env(i))
                 for i in range(1, size)]
        states = [self._serve(p, lws) for p in pods]
        health, loaded = all(h for h, _ in states), all(ld for _, ld in states)
        self._serving(lws, pods, health, loaded)
        self._status(lws, {"readyReplicas": int(health), "replicas": 1,
                           "conditions": [{"type": "Available", "status": str(health)}]})

    def _reconcile_dynamographdeployments(self, dgd: dict) -> None:
        """The Dynamo operator: a frontend Service <dgd>-frontend; per service and replica, one pod per node,
        the multi-node rules of sim/dynamo.py applied to each rank's container."""
        name = dgd["metadata"]["name"]
        ns = dgd["metadata"]["namespace"]
        refusal = dynamo.podcliqueset_refusal(dgd)
        if refusal:
            self._status(dgd, {"state": "failed", "conditions": [{
                "type": "Ready", "status": "False", "reason": "failed_to_reconcile_the_resources",
                "message": f"failed to sync the Grove PodCliqueSet: {refusal}"}]})
            return
        frontends: list[dict] = []
        workers: list[dict] = []
        for svc_name, svc in dgd["spec"]["services"].items():
            extra = svc.get("extraPodSpec") or {}
            nodes = (svc.get("multinode") or {}).get("nodeCount", 1)
            role = svc.get("subComponentType") or svc.get("componentType")
            for replica in range(svc.get("replicas", 1)):
                for rank in range(nodes):
                    spec = {k: v for k, v in extra.items() if k != "mainContainer"}
                    main = {"name": "main", **(extra.get("mainContainer") or {})}
                    gpus = ((svc.get("resources") or {}).get("limits") or {}).get("gpu")
                    if gpus:  # the operator turns the service's gpu limit into the device resource
                        main.setdefault("resources", {}).setdefault("limits", {})["nvidia.com/gpu"] = str(gpus)
                    main["env"] = [*(main.get("env") or []), *(svc.get("envs") or [])]
                    spec["containers"] = [main]
                    labels = {"nvidia.com/dynamo-component": svc_name, "recipebench.sim/rank": str(rank)}
                    pod = self._ensure_pod(dgd, f"{name}-{svc_name.lower()}-{replica}-{rank}",
                                           svc.get("extraPodMetadata") or {}, spec, labels, role,
                                           lambda c, s=svc_name, n=nodes, r=rank: dynamo.update_container(c, s, n, r))
                    (frontends if svc.get("componentType") == "frontend" else workers).append(pod)
        try:
            self.store.get(SERVICES, ns, f"{name}-frontend")
        except ApiError:
            self.store.put(SERVICES, {"metadata": {"name": f"{name}-frontend", "namespace": ns,
                                                   "labels": dgd["metadata"].get("labels", {}),
                                                   "ownerReferences": [self._owner(dgd)]},
                                      "spec": {"selector": {"nvidia.com/dynamo-component": "Frontend"},
                                               "ports": [{"port": 8000}]}}, create=True)
        front = [self._serve(p, dgd, gpu=False) for p in frontends]
        work = [self._serve(p, dgd, probed=p["metadata"]["labels"]["recipebench.sim/rank"] == "0") for p in workers]
        health = all(h for h, _ in front + work)
        # workers register the model with the frontend once they have loaded it; the frontend's
        # health does not wait for that
        loaded = all(ld for _, ld in work) and health
        self._serving(dgd, workers, health, loaded, lag=REGISTER_LAG)
        self._status(dgd, {"state": "successful" if health else "pending",
                           "conditions": [{"type": "Ready", "status": str(health)}]})

    def _reconcile_jobs(self, job: dict) -> None:
        if any(c.get("type") in ("Complete", "Failed") for c in (job.get("status") or {}).get("conditions") or []):
            return
        name = job["metadata"]["name"]
        tmpl = job["spec"]["template"]
        pod = self._ensure_pod(job, f"{name}-{_hash(name)}", tmpl.get("metadata") or {}, tmpl["spec"],
                               {"job-name": name}, "job")
        phase = self._run_to_completion(pod, job)
        status: dict[str, object] = {"active": int(phase in ("Pending", "Running")),
                                     "succeeded": int(phase == "Succeeded"), "failed": int(phase == "Failed")}
        if phase == "Succeeded":
            status["conditions"] = [{"type": "Complete", "status": "True"}]
        elif phase == "Failed":
            status["conditions"] = [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                                     "message": "Job has reached the specified backoff limit"}]
        self._status(job, status)

    # -- what the servers serve ------------------------------------------------------------------
    def _serving(self, workload: dict, model_pods: list[dict], health: bool, loaded_at_ready: bool, lag: float = 0.0):
        """Record whether the workload's server lists its model and answers completions; model_pods
        run the processes whose flags name the model."""
        uid = workload["metadata"]["uid"]
        scenario, _ = self._scenario(workload)
        state = self.serving.setdefault(uid, {"model": _served_model(model_pods), "since": None})
        if loaded_at_ready and state["since"] is None:
            state["since"] = self.clock()
        delay = lag + (LOAD_LAG if scenario == "health-before-load" else 0.0)
        state["served"] = health and state["since"] is not None and self.clock() - state["since"] >= delay
        # a server started under another name lists that one (a --served-model-name that differs from the recipe's)
        state["listed"] = state["model"] if scenario != "model-never-served" else f"{state['model']}-other"
        state["completions"] = scenario != "completion-fails"

    # -- pod lifecycles -------------------------------------------------------------------------
    def _scenario(self, owner: dict) -> tuple[str, float]:
        return self.scenarios.get(owner["metadata"]["uid"], ("ready", DEFAULT_READY_AFTER))

    def _schedule(self, pod: dict, owner: dict, age: float) -> float | None:
        """Place the pod; returns when it was scheduled (pod age), or None while it is not."""
        uid = pod["metadata"]["uid"]
        if uid in self.bound:
            return self.bound[uid]
        scenario, _ = self._scenario(owner)
        if scenario == "unschedulable" and self._gpu(pod):
            self._pending(pod, "Unschedulable", "0/6 nodes are available: 2 Insufficient nvidia.com/gpu, "
                          "4 node(s) didn't match Pod's node affinity/selector.")
            self._event(pod, "Warning", "FailedScheduling", "0/6 nodes are available: 2 Insufficient nvidia.com/gpu, "
                        "4 node(s) didn't match Pod's node affinity/selector.")
            self._event(pod, "Normal", "NotTriggerScaleUp", "pod didn't trigger scale-up: 1 max node group size "
                        "reached, 2 node(s) didn't match Pod's node affinity/selector")
            return None
        if scenario == "capacity-wait-then-ready" and self._gpu(pod):
            if age < CAPACITY_GATE:
                self._pending(pod, "SchedulingGated", "Scheduling is blocked due to non-empty scheduling gates",
                              gates=[{"name": "kueue.x-k8s.io/admission"}])
                return None
            if age < CAPACITY_SCALEUP:
                self._pending(pod, "Unschedulable", "0/4 nodes are available: 4 Insufficient nvidia.com/gpu.")
                self._event(pod, "Normal", "TriggeredScaleUp", "pod triggered scale-up: [{gpu-pool 0->1 (max: 4)}]")
                return None
        if age < 2.0:
            return None
        node, message = place(pod, self.nodes, self._bound_pods())
        if node is None:
            self._pending(pod, "Unschedulable", message)
            self._event(pod, "Warning", "FailedScheduling", message)
            if not only_capacity(message):  # no node group of the cluster could ever take it
                self._event(pod, "Normal", "NotTriggerScaleUp",
                            f"pod didn't trigger scale-up: {message.split(': ', 1)[-1]}")
            return None
        self._bind(pod, node)
        self.bound[uid] = age
        return age

    def _bound_pods(self) -> list[tuple[dict, str]]:
        return [(p, p["spec"]["nodeName"]) for p in self.store.list(PODS, None)
                if p["spec"].get("nodeName") and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]

    def _bind(self, pod: dict, node: str) -> None:
        cur = self.store.get(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])
        cur["spec"]["nodeName"] = node
        self.store.put(PODS, cur)
        pod["spec"]["nodeName"] = node

    def _serve(self, pod: dict, owner: dict, gpu: bool = True, probed: bool = True) -> tuple[bool, bool]:
        """A long-running server pod: (Ready, model loaded). `probed`: the container kept a readiness
        probe (the Dynamo operator removes it from every multi-node rank but the leader, so those are
        Ready as soon as they run)."""
        age = self.clock() - self.born.get(pod["metadata"]["uid"], self.clock())
        scheduled_at = self._schedule(pod, owner, age)
        if scheduled_at is None:
            return False, False
        t = age - scheduled_at
        scenario, ready_after = self._scenario(owner)
        container = pod["spec"]["containers"][0]
        name = container["name"]
        if gpu and scenario == "image-pull-failure":
            reason = "ErrImagePull" if t < 15 else "ImagePullBackOff"
            msg = f'Back-off pulling image "{container.get("image")}"' if reason == "ImagePullBackOff" else (
                f'rpc error: code = NotFound desc = failed to pull and unpack image "{container.get("image")}": '
                "not found")
            self._event(pod, "Warning", "Failed", f'Failed to pull image "{container.get("image")}": rpc error: '
                        f'code = NotFound desc = failed to pull and unpack image "{container.get("image")}": not found')
            self._container(pod, name, waiting={"reason": reason, "message": msg})
            return False, False
        if t < 10:
            self._container(pod, name, waiting={"reason": "ContainerCreating"})
            return False, False
        denied = gpu and root_only_failure(container)
        if not denied:
            self._log(pod, name, [*self._environment(pod, container, scenario), "INFO: loading model weights",
                                  "Loading safetensors checkpoint shards: 100% 163/163"])
        misfit = gpu and not denied and dynamo.missing_gpus(container, gpu_request(pod["spec"]), _env(container))
        if denied:
            self._crash(pod, name, t, {"terminated": {"exitCode": 1, "reason": "Error"}}, [denied])
            return False, False
        if gpu and (scenario in ("crash-loop", "oom") or misfit):
            if scenario == "oom":
                last = {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}
                tail = ["Loading safetensors checkpoint shards:  87% 142/163", "Killed"]
            else:
                last = {"terminated": {"exitCode": 1, "reason": "Error"}}
                tail = ["Traceback (most recent call last):", '  File "/sgl-workspace/python/sglang/srt/'
                        'model_executor/model_runner.py", line 213, in init_torch_distributed',
                        misfit or "RuntimeError: NCCL error: unhandled system error (run with NCCL_DEBUG=INFO for "
                                  "details)"]
            self._crash(pod, name, t, last, ["INFO: loading model weights", *tail])
            return False, False
        loaded = not gpu or t >= ready_after
        ready = (t >= 10) if (not gpu or not probed) else loaded
        weights = startup.weights_line(dynamo.command_text(container))
        if gpu and weights and t >= 10 + WEIGHTS_SHARE * (ready_after - 10):  # then CUDA graphs, warm-up
            self._log(pod, name, [weights])
        if loaded and gpu:
            self._log(pod, name, ["The server is fired up and ready to roll!"])
        self._container(pod, name, running=True, ready=ready)
        return ready, loaded

    def _crash(self, pod: dict, name: str, t: float, last: dict, log: list[str]) -> None:
        """The container exits soon after start, again and again: CrashLoopBackOff, its log as the
        previous instance's."""
        self.store.previous_logs[(pod["metadata"]["namespace"], pod["metadata"]["name"], name)] = log
        self._container(pod, name, waiting={"reason": "CrashLoopBackOff",
                                            "message": f"back-off 5m0s restarting failed container={name}"},
                        restarts=int((t - 10) // 30) + 1, last=last)
        self._event(pod, "Warning", "BackOff", "Back-off restarting failed container")

    def _run_to_completion(self, pod: dict, job: dict) -> str:
        age = self.clock() - self.born.get(pod["metadata"]["uid"], self.clock())
        labels = job["metadata"].get("labels") or {}
        component = ((job["spec"]["template"].get("metadata") or {}).get("labels") or {}).get(
            "recipebench.dev/component", "")
        scenario, ready_after = self._scenario(job)
        scheduled_at = self._schedule(pod, job, age)
        if scheduled_at is None:
            return "Pending"
        if component == "offline":  # the trtllm Job is the workload: it shares the server's lifecycles
            if scenario in ("image-pull-failure", "crash-loop", "oom"):
                self._serve(pod, job)
                return "Pending" if scenario == "image-pull-failure" else self._fail(pod, job, scenario)
            duration = scheduled_at + ready_after + BENCH_SECONDS
        elif component in ("helm", "stage-data"):
            duration = HELM_SECONDS
        else:
            duration = BENCH_SECONDS
        container = pod["spec"]["containers"][0]
        name = container["name"]
        script = " ".join(container.get("command") or []) + " " + " ".join(container.get("args") or [])
        if age < min(duration, 5.0):
            self._container(pod, name, waiting={"reason": "ContainerCreating"})
            return "Pending"
        if age < duration:
            self._container(pod, name, running=True, ready=True)
            if component == "offline":
                self._offline_start(pod, container, scenario, age >= scheduled_at + ready_after)
            return "Running"
        seed = f"{job['metadata']['name']}"
        if component == "helm":
            return self._helm(pod, job, name, script)
        if component == "stage-data":  # what its script says it staged (the files themselves are not simulated)
            self._log(pod, name, re.findall(r'echo "(staged: [^"]+)"', script))
            return self._finish(pod, name, 0)
        if component == "accuracy":  # the questions are in the ConfigMap the pod mounts
            cm = next((v["configMap"]["name"] for v in pod["spec"].get("volumes") or [] if v.get("configMap")), None)
            try:
                data = self.store.get(_res("", "configmaps"), pod["metadata"]["namespace"], cm or "").get("data")
            except ApiError:  # the kubelet would not start the pod: a missing ConfigMap volume
                data = None
            lines = outputs.accuracy_log((data or {}).get("test.jsonl"), scenario == "wrong-answers")
            self._log(pod, name, lines)
            return self._finish(pod, name, 0 if data else 1)
        if component == "bench" and scenario == "bench-job-failure":
            self._log(pod, name, ["Traceback (most recent call last):",
                                  "aiohttp.client_exceptions.ClientConnectorError: Cannot connect to host "
                                  f"{_host(script)} ssl:default [Connect call failed]"])
            return self._finish(pod, name, 1)
        broken = scenario == "corrupt-output"
        # slower-20: a server 20% slower; wrong-answers: one that answers garbage fast
        slowdown = 1.25 if scenario in ("slower-20", "driver-changed") else 0.7 if scenario == "wrong-answers" else 1.0
        cold = outputs.COLD_LONG if scenario == "cold-first-trial" else outputs.COLD_REQUESTS
        if component == "offline":
            lines = outputs.offline_log(script, seed, broken, slowdown, cold_requests=cold)
        else:
            server = labels.get("recipebench.dev/run", "")  # one server per run: what it has served so far
            lines, self.served[server] = outputs.bench_log(
                script, labels.get("recipebench.dev/point", ""), seed, broken, slowdown,
                completed_share=0.97 if scenario == "failed-3pct" else 1.0,
                output_share=0.5 if scenario == "short-outputs" else 1.0, served=self.served.get(server, 0),
                cold_requests=cold, capacity=0.5 if scenario == "saturates-early" else 1.0)
        if scenario == "log-rotated":  # kubelet kept only the newest part of the log
            lines = lines[-2:]
        self._log(pod, name, lines)
        return self._finish(pod, name, 0)

    def _offline_start(self, pod: dict, container: dict, scenario: str, downloaded: bool) -> None:
        """An offline Job's probe at start, then the weights it downloads before its benchmark."""
        self._log(pod, container["name"], self._environment(pod, container, scenario))
        if downloaded:
            self._log(pod, container["name"], [startup.WEIGHTS_LINES["trtllm"]])

    def _helm(self, pod: dict, job: dict, name: str, script: str) -> str:
        """helm upgrade --install: records the release the way Helm does and installs its CRDs."""
        from recipebench.cluster.platform import encode_release

        labels = job["metadata"].get("labels") or {}
        release, version = labels.get("recipebench.dev/release", ""), labels.get("recipebench.dev/chart-version", "")
        ns = job["metadata"]["namespace"]
        if self._scenario(job)[0] == "helm-failure":
            self._log(pod, name, [f'Release "{release}" does not exist. Installing it now.',
                                  f"Error: INSTALLATION FAILED: failed pre-install: timed out waiting for the "
                                  f"condition (chart {release}-{version})"])
            return self._finish(pod, name, 1)
        conflict = self._ownership_conflict(release)
        if conflict:
            self._log(pod, name, [f'Release "{release}" does not exist. Installing it now.', conflict])
            return self._finish(pod, name, 1)
        secret: dict[str, Any] = {"metadata": {"name": f"sh.helm.release.v1.{release}.v1", "namespace": ns,
                               "labels": {"owner": "helm", "name": release, "status": "deployed", "version": "1"}},
                  "type": "helm.sh/release.v1", "data": {"release": encode_release(release, version)}}
        secrets = _res("", "secrets")
        try:
            self.store.delete(secrets, ns, secret["metadata"]["name"])
        except ApiError:
            pass
        self.store.put(secrets, secret, create=True)
        crds = _res("apiextensions.k8s.io", "customresourcedefinitions")
        for crd in INSTALLS_CRDS.get(release, ()):
            self.store.put(crds, {"metadata": {"name": crd}, "spec": {}})
        self._log(pod, name, [f'Release "{release}" has been upgraded. Happy Helming!', f"NAME: {release}",
                              "STATUS: deployed"])
        return self._finish(pod, name, 0)

    def _ownership_conflict(self, release: str) -> str | None:
        if release not in INSTALLS_DEPLOYMENTS:
            return None
        ns, dname = INSTALLS_DEPLOYMENTS[release]
        try:
            existing = self.store.get(_res("apps", "deployments"), ns, dname)
        except ApiError:
            return None
        meta = existing["metadata"]
        if (meta.get("labels") or {}).get("app.kubernetes.io/managed-by") == "Helm" and \
                (meta.get("annotations") or {}).get("meta.helm.sh/release-name") == release:
            return None
        return (f'Error: Unable to continue with install: Deployment "{dname}" in namespace "{ns}" exists and cannot '
                f'be imported into the current release: invalid ownership metadata; label validation error: missing '
                f'key "app.kubernetes.io/managed-by": must be set to "Helm"; annotation validation error: missing key '
                f'"meta.helm.sh/release-name": must be set to "{release}"')

    def _fail(self, pod: dict, job: dict, scenario: str) -> str:
        """A Job's pod (restartPolicy Never) that crashes or is OOM-killed: the Job fails at once."""
        name = pod["spec"]["containers"][0]["name"]
        code = 137 if scenario == "oom" else 1
        self._log(pod, name, ["Traceback (most recent call last):", "RuntimeError: CUDA error: an illegal memory access "
                              "was encountered"] if code == 1 else ["Killed"])
        self._set_pod(pod, {"phase": "Failed", "containerStatuses": [{"name": name, "ready": False, "restartCount": 0,
                            "state": {"terminated": {"exitCode": code,
                                                     "reason": "OOMKilled" if code == 137 else "Error"}}}]})
        return "Failed"

    # -- status helpers -------------------------------------------------------------------------
    def _gpu(self, pod: dict) -> bool:
        return gpu_request(pod["spec"]) > 0

    def _pending(self, pod, reason, message, gates=None):
        patch = {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": reason,
                                                     "message": message}]}
        self._set_pod(pod, patch, gates=gates)

    def _container(self, pod, name, waiting=None, running=False, ready=False, restarts=0, last=None):
        state = {"waiting": waiting} if waiting else {"running": {"startedAt": self._started_at(pod)}}
        cs = {"name": name, "ready": ready, "restartCount": restarts, "state": state,
              "image": pod["spec"]["containers"][0].get("image")}
        if last:
            cs["lastState"] = last
        phase = "Running" if running or restarts else "Pending"
        self._set_pod(pod, {"phase": phase, "conditions": [
            {"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": str(ready)}],
            "containerStatuses": [cs]})

    def _started_at(self, pod) -> str:
        """When the running container started: kept from the pod's status, else now (k8s ContainerStateRunning)."""
        try:
            cur = self.store.get(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])
        except ApiError:
            cur = pod
        for cs in (cur.get("status") or {}).get("containerStatuses") or []:
            started = ((cs.get("state") or {}).get("running") or {}).get("startedAt")
            if started:
                return started
        return _now()

    def _environment(self, pod: dict, container: dict, scenario: str) -> list[str]:
        """What the container's environment probe prints on this pod's node."""
        node = next((n for n in self.nodes if n.name == pod["spec"].get("nodeName")), None)
        return startup.environment_block(dynamo.command_text(container), container.get("image"),
                                         node.labels.get("cloud.google.com/gke-accelerator") if node else None,
                                         gpu_request(pod["spec"]),
                                         startup.NEW_DRIVER if scenario == "driver-changed" else startup.DRIVER)

    def _finish(self, pod, name, code) -> str:
        phase = "Succeeded" if code == 0 else "Failed"
        self._set_pod(pod, {"phase": phase, "conditions": [{"type": "PodScheduled", "status": "True"},
                                                            {"type": "Ready", "status": "False"}],
                            "containerStatuses": [{"name": name, "ready": False, "restartCount": 0, "state": {
                                "terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error"}}}]})
        return phase

    def _set_pod(self, pod, status, gates=None):
        try:
            cur = self.store.get(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])
        except ApiError:
            return
        # a condition's lastTransitionTime is when its status last changed (k8s.io/api core/v1
        # PodCondition); the wait_ready trigger reads PodScheduled's to count its ready limit. Real
        # clusters write whole seconds (metav1.Time); here a second is minutes of simulated time, so
        # the fraction is kept
        before = {c.get("type"): c for c in (cur.get("status") or {}).get("conditions") or []}
        stamp = _now()
        for cond in status.get("conditions") or []:
            old = before.get(cond.get("type"))
            cond.setdefault("lastTransitionTime", old.get("lastTransitionTime") if old and old.get("status") ==
                            cond.get("status") and old.get("lastTransitionTime") else stamp)
        cur["status"] = status
        if gates is not None:
            cur["spec"]["schedulingGates"] = gates
        else:
            cur["spec"].pop("schedulingGates", None)
        self.store.put(PODS, cur)

    def _status(self, obj, status):
        res = next(r for r in WORKLOADS if r.kind == obj["kind"])
        try:
            cur = self.store.get(res, obj["metadata"]["namespace"], obj["metadata"]["name"])
        except ApiError:
            return
        if cur.get("status") != status:
            cur["status"] = status
            self.store.put(res, cur)

    def _log(self, pod, container, lines):
        """Append lines once: every tick re-derives the pod's state, but a log is written only once."""
        key = (pod["metadata"]["namespace"], pod["metadata"]["name"], container)
        tag = (pod["metadata"]["uid"], lines[0] if lines else "", len(lines))
        if tag in self.logged:
            return
        self.logged.add(tag)
        self.store.logs.setdefault(key, []).extend(lines)
        self.store.log_times.setdefault(key, []).extend([_now(nanoseconds=True)] * len(lines))

    def _event(self, pod, type_, reason, message):
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        ev_name = f"{name}.{_hash(reason + message)}"
        try:
            self.store.get(EVENTS, ns, ev_name)
            return
        except ApiError:
            pass
        self.store.put(EVENTS, {"metadata": {"name": ev_name, "namespace": ns}, "type": type_, "reason": reason,
                                "message": message, "count": 1, "firstTimestamp": _now(), "lastTimestamp": _now(),
                                "involvedObject": {"kind": "Pod", "name": name, "namespace": ns}}, create=True)


def _now(nanoseconds: bool = False) -> str:
    """The wall clock as the API writes it (metav1.Time; the kubelet's log stamps carry nanoseconds). Real
    clusters write whole seconds in object times; here a second is minutes of simulated time, so the
    fraction is kept."""
    now = datetime.datetime.now(datetime.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.%f") + ("000Z" if nanoseconds else "Z")


def _env(container: dict) -> dict[str, str]:
    return {e["name"]: str(e["value"]) for e in container.get("env") or [] if "value" in e}


MODEL_FLAGS = (re.compile(r"--served-model-name[ =](\S+)"), re.compile(r"--model-path[ =](\S+)"),
               re.compile(r"vllm serve (\S+)"))


def _served_model(pods: list[dict]) -> str | None:
    """The model id a server lists: --served-model-name, else the model path (what sglang and vLLM do).
    A Dynamo frontend lists what its workers registered: the same flags, on the workers."""
    for pattern in MODEL_FLAGS:
        for pod in pods:
            m = pattern.search(dynamo.command_text(pod["spec"]["containers"][0]))
            if m:
                return m.group(1).strip("'\"")
    return None


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:5]


def _host(script: str) -> str:
    m = re.search(r"--host (\S+) --port (\d+)|--base-url http://(\S+)|--url http://(\S+)", script)
    if not m:
        return "server"
    return f"{m[1]}:{m[2]}" if m[1] else (m[3] or m[4])

