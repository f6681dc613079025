"""The words the pipeline decides with, as enums (StrEnum: each member is its string, so the warehouse,
XCom and the logs keep plain strings and compare equal to them)."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """What a look at the cluster says (cluster.readiness): a workload's, a Job's, a trigger's event."""

    READY = "ready"  # the server serves the model
    STARTING = "starting"  # placed, not serving yet
    LOADING = "loading"  # it answers, but not with the model yet
    CAPACITY = "capacity"  # waiting for Kueue admission or a node
    FAILED = "failed"  # broken for good, with the reason
    DONE = "done"  # a Job completed
    RUNNING = "running"  # a Job is still at work
    STUCK = "stuck"  # a Job that waiting cannot fix (an image, no node will take it)
    ACQUIRED = "acquired"  # the node pool's Lease is this run's
    WAITING = "waiting"  # another run holds it
    ABORTED = "aborted"  # a wait given up (its limit, a lost Lease)
    ERROR = "error"  # the cluster could not be asked


class Verdict(StrEnum):
    OK = "ok"
    REGRESSED = "regressed"
    NO_BASELINE = "no-baseline"
    INVALID = "invalid"  # the point broke a validity rule: neither judged nor a baseline


class AlertKind(StrEnum):
    REGRESSION = "regression"
    REGRESSION_RECOVERED = "regression-recovered"
    FAILING = "failing"
    FAILING_RECOVERED = "failing-recovered"
    INVALID = "invalid"  # points broke validity rules (results.validity)
    INVALID_RECOVERED = "invalid-recovered"
    ACCURACY = "accuracy"  # the run's accuracy gate failed: every point invalid (recipebench.accuracy)
    ACCURACY_RECOVERED = "accuracy-recovered"


class RunStatus(StrEnum):
    SUCCESS = "success"
    FAILED = "failed"
    REFUSED = "refused"  # its trigger params were refused: not a failure of the recipe
    SKIPPED = "skipped"  # schedule_policy when-changed: nothing changed since the last valid run
