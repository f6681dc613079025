"""The workload shapes: one class per shape, registered in one list. A recipe's topology names one
(`topology.shape`); every module that depends on the shape asks its class."""

from __future__ import annotations

from recipebench.catalog.registry import Registry
from recipebench.shapes.base import WorkloadShape, condition
from recipebench.shapes.disaggregated import Disaggregated
from recipebench.shapes.multi_host import MultiHost
from recipebench.shapes.offline import Offline
from recipebench.shapes.single_host import SingleHost

SHAPES: list[WorkloadShape] = [SingleHost(), MultiHost(), Offline(), Disaggregated()]
REGISTRY = Registry("workload shape", SHAPES)


def names() -> list[str]:
    return REGISTRY.names()


def shape(name: str) -> WorkloadShape:
    return REGISTRY.get(name)


__all__ = ["SHAPES", "WorkloadShape", "condition", "names", "shape"]
