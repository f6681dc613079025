"""What a workload shape is, once: the base every shape class fills in (one module per shape).

A shape knows its topology rules, the Kubernetes object that runs it and when that object is ready,
its template, the pod a benchmark client runs beside, the platform it needs, and which building
blocks of the manifests it is made of. Everything else asks the shape instead of comparing its name.
Pure data and decisions: the recipe and manifest types are imported for the type checker only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from recipebench.catalog.recipe import Recipe, TopologySpec


class Blocks(Protocol):
    """The manifests' building blocks a shape is made of (manifests.render.Blocks)."""

    def server(self, run: Any) -> dict[str, Any]: ...
    def offline_job(self, run: Any) -> dict[str, Any]: ...
    def graph(self, run: Any) -> dict[str, Any]: ...


def condition(status: dict | None, type_: str) -> bool | None:
    """Whether a status condition of this type is True (None: the object does not report it)."""
    for c in (status or {}).get("conditions") or []:
        if c.get("type") == type_:
            return str(c.get("status")) == "True"
    return None


class WorkloadShape:
    name: ClassVar[str]
    template: ClassVar[str]  # include/manifests/<template>
    api_version: ClassVar[str]
    kind: ClassVar[str]  # the object that runs the workload (deleted, watched, named in messages)
    serves: ClassVar[bool] = True  # it has a server that answers requests (else: the workload is the benchmark)
    server_component: ClassVar[str | None] = None  # the pod a benchmark client runs beside (None: its own pool)
    charts: ClassVar[tuple[str, ...]] = ()  # the platform releases it needs (cluster.platform installs them)
    needs_compute_domain: ClassVar[bool] = False  # multi-node NVLink through NVIDIA's DRA driver (IMEX channels)

    # -- the topology -------------------------------------------------------------------------------
    def check(self, topology: TopologySpec) -> None:
        """ValueError when the topology does not fit the shape."""
        if topology.prefill is not None or topology.decode is not None:
            raise ValueError(f"prefill/decode only apply to the disaggregated shape, not {self.name}")
        if topology.nodes != 1:
            raise ValueError(f"the {self.name} shape runs on exactly one node")

    def total_nodes(self, topology: TopologySpec) -> int:
        return topology.nodes

    def server_nodes(self, topology: TopologySpec) -> int:
        """Nodes one server instance spans (its tensor x pipeline ranks must fit their GPUs)."""
        return 1

    def name_budget(self, topology: TopologySpec) -> int:
        """The longest name the workload object may have (its controllers derive longer ones from it)."""
        return 63

    def admission_errors(self, obj: dict) -> list[str]:
        """What the controllers that take the workload object would refuse in it (their admission rules)."""
        return []

    def extra_ready_minutes(self, recipe: Recipe) -> int:
        """What the wait for ready must allow beyond start-up (an offline Job runs its points first)."""
        return 0

    # -- the running workload -----------------------------------------------------------------------
    def ready(self, workload: dict | None) -> bool:
        """Whether the workload object reports ready (serving, or for a Job, complete)."""
        raise NotImplementedError

    def failed(self, workload: dict | None) -> dict | None:
        """The condition of a workload that failed for good (a run-to-completion Job), else None."""
        return None

    def endpoint(self, name: str, port: int) -> tuple[str, int]:
        """The Service a client sends to: the workload's own by default."""
        return name, port

    def server_flags(self, framework: str) -> list[str]:
        """What a multi-node server's command line adds to find its peers."""
        return []

    def manifest_values(self, run: Any, blocks: Blocks) -> dict[str, Any]:
        """The template's values from the building blocks of manifests.render (server command, offline
        script, Dynamo graph): which blocks the shape is made of."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<workload shape {self.name}>"
