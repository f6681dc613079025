"""The simulated cluster: a real HTTP server on 127.0.0.1 speaking the Kubernetes API subset the
project uses, a simulated kubelet, and a kubeconfig that points the ordinary client at it.

It is a test double for development, tests and demos, never a benchmark target: the kubeconfig
marks it (context `recipebench-sim`) and every run against it is recorded as simulated.

    python -m recipebench.sim [--port P] [--kubeconfig PATH] [--time-scale X]
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

import yaml

from recipebench.sim.kubelet import Kubelet, parse_scenario
from recipebench.sim.scheduler import seed_nodes
from recipebench.sim.server import Store, make_server

CONTEXT = "recipebench-sim"
DEFAULT_TIME_SCALE = 300.0  # simulated seconds per real second
NODE_VERSION = "v1.33.5-gke.1080000"  # the GKE node version its kubelets report


class SimCluster:
    def __init__(self, port: int = 0, time_scale: float | None = None, kubeconfig: str | None = None,
                 gpu_nodes: dict[str, int] | None = None):
        self.time_scale = float(time_scale or os.environ.get("RECIPEBENCH_SIM_TIME_SCALE") or DEFAULT_TIME_SCALE)
        self.store = Store()
        self._t0 = time.monotonic()
        self.nodes = seed_nodes(gpu_nodes)
        self.kubelet = Kubelet(self.store, self.now, self.nodes)
        self.httpd = make_server(self.store, self, port=port)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.kubeconfig = kubeconfig or os.path.join(tempfile.mkdtemp(prefix="recipebench-sim-"), "kubeconfig")
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def now(self) -> float:
        """Simulated seconds since start."""
        return (time.monotonic() - self._t0) * self.time_scale

    def describe(self) -> dict:
        return {"simulated": True, "timeScale": self.time_scale, "scenario": os.environ.get("RECIPEBENCH_SIM_SCENARIO",
                                                                                              "ready")}

    # hooks called by the API server
    def proxy(self, namespace: str, service: str, method: str, path: str, body: bytes) -> tuple[int, dict]:
        from recipebench.sim.serving import proxy

        with self.store.lock:
            return proxy(self.store, self.kubelet, namespace, service, method, path, body)

    def on_change(self, res, obj) -> None:
        if res.kind in ("Deployment", "LeaderWorkerSet", "DynamoGraphDeployment", "Job"):
            self.kubelet.remember(obj, os.environ.get("RECIPEBENCH_SIM_SCENARIO"))

    def write_kubeconfig(self) -> str:
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": CONTEXT,
            "clusters": [{"name": CONTEXT, "cluster": {"server": self.url}}],
            "users": [{"name": CONTEXT, "user": {}}],
            "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": "default",
                                                       "extensions": [{"name": "recipebench.dev/sim", "extension": {
                                                           "timeScale": self.time_scale}}]}}],
        }
        Path(self.kubeconfig).parent.mkdir(parents=True, exist_ok=True)
        Path(self.kubeconfig).write_text(yaml.safe_dump(config))
        return self.kubeconfig

    def _tick_forever(self) -> None:
        while not self._stop.wait(0.02):
            try:
                self.kubelet.tick()
            except Exception as exc:  # a sim bug must be visible, not a silent hang
                print(f"recipebench.sim: kubelet tick failed: {type(exc).__name__}: {exc}")

    def seed(self) -> None:
        """What a Cluster Toolkit GPU cluster comes with: Kueue (and its queues), JobSet, the GCS FUSE
        driver and NVIDIA's DRA driver. LeaderWorkerSet and Dynamo are left for ensure_platform."""
        from recipebench.catalog.accelerators import ACCELERATORS
        from recipebench.sim.server import BY_PLURAL

        crds = BY_PLURAL[("apiextensions.k8s.io", "customresourcedefinitions")]
        for name in ("localqueues.kueue.x-k8s.io", "jobsets.jobset.x-k8s.io", "computedomains.resource.nvidia.com"):
            self.store.put(crds, {"metadata": {"name": name}, "spec": {}})
        self.store.put(BY_PLURAL[("storage.k8s.io", "csidrivers")], {"metadata": {"name": "gcsfuse.csi.storage.gke.io"}})
        for node in self.nodes:  # what a GKE node reports of itself (k8s.io/api core/v1 NodeSystemInfo)
            self.store.put(BY_PLURAL[("", "nodes")], {
                "metadata": {"name": node.name, "labels": node.labels},
                "spec": {"taints": node.taints},
                "status": {"capacity": {"nvidia.com/gpu": str(node.gpus)} if node.gpus else {},
                           "nodeInfo": {"kubeletVersion": NODE_VERSION, "osImage": "Container-Optimized OS from Google",
                                        "kernelVersion": "6.6.93+", "containerRuntimeVersion": "containerd://2.0.6",
                                        "operatingSystem": "linux", "architecture": node.labels["kubernetes.io/arch"]}}})
        for acc in ACCELERATORS.values():
            self.store.put(BY_PLURAL[("kueue.x-k8s.io", "localqueues")],
                           {"metadata": {"name": acc.default_queue, "namespace": "default"},
                            "spec": {"clusterQueue": acc.default_queue}})

    def start(self) -> SimCluster:
        parse_scenario(os.environ.get("RECIPEBENCH_SIM_SCENARIO"))  # refuse an unknown scenario at once
        self.seed()
        self.write_kubeconfig()
        for target in (self.httpd.serve_forever, self._tick_forever):
            t = threading.Thread(target=target, daemon=True, name=f"recipebench-sim-{target.__name__}")
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> SimCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
