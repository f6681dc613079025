"""Where a run's outputs go (the artifacts location and the warehouse), checked at resolve.

A run that cannot keep its outputs must not start GPUs: resolve fails in seconds, saying which
destination and what it answered. Each check runs in a daemon thread with a bound
(RECIPEBENCH_PROBE_TIMEOUT, seconds): a client without credentials can otherwise retry for many
minutes (gcsfs asking a metadata server that is not there), and a daemon thread left behind does
not keep the process alive.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from recipebench.errors import RecipebenchError, reason

DEFAULT_TIMEOUT_S = 60.0


class DestinationError(RecipebenchError):
    """A destination of the run's outputs cannot be used; names it and why."""


def within(seconds: float, what: str, call: Callable[[], object]) -> None:
    """call() in a daemon thread; DestinationError when it raises or does not return in time."""
    outcome: dict[str, BaseException | None] = {}

    def target():
        try:
            call()
            outcome["error"] = None
        except BaseException as exc:  # reported below, in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"probe {what}", daemon=True)
    thread.start()
    thread.join(seconds)
    if "error" not in outcome:
        raise DestinationError(f"{what} did not answer within {seconds:.0f} s (credentials? network?)")
    error = outcome["error"]
    if error is not None:
        raise DestinationError(f"{what} cannot be used: {reason(error)}")


def check_destinations(timeout_s: float | None = None) -> list[str]:
    """Both destinations, each within the bound; what was checked, for the log."""
    from recipebench.pipeline import artifacts
    from recipebench.results.warehouse import open_warehouse, warehouse_url

    limit = timeout_s if timeout_s is not None else float(os.environ.get("RECIPEBENCH_PROBE_TIMEOUT",
                                                                        DEFAULT_TIMEOUT_S))
    within(limit, f"the artifacts location {artifacts.artifacts_root()}", artifacts.probe)
    within(limit, f"the warehouse {warehouse_url()}", lambda: open_warehouse().probe())
    return [artifacts.artifacts_root(), warehouse_url()]
