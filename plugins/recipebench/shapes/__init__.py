"""The workload shapes: one class per shape, registered in one list. A recipe's topology names one
(`topology.shape`); every module that depends on the shape asks its class."""

from __future__ import annotations

from recipebench.shapes.base import WorkloadShape, condition
from recipebench.shapes.disaggregated import Disaggregated
from recipebench.shapes.multi_host import MultiHost
from recipebench.shapes.offline import Offline
from recipebench.shapes.single_host import SingleHost

SHAPES: list[WorkloadShape] = [SingleHost(), MultiHost(), Offline(), Disaggregated()]


def names() -> list[str]:
    return [s.name for s in SHAPES]


def shape(name: str) -> WorkloadShape:
    found = next((s for s in SHAPES if s.name == name), None)
    if found is None:
        raise KeyError(f"no workload shape {name!r} (known: {', '.join(names())})")
    return found


__all__ = ["SHAPES", "WorkloadShape", "condition", "names", "shape"]
