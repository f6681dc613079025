"""Where a run's GPU-hours went: the time its GPUs were held, from the start of deploy to the end of
teardown, cut into what happened in it.

Pure: a timeline in (epoch seconds of the run's milestones, on the node's and the worker's clocks,
which NTP keeps together on GKE), seconds and GPU-hours per phase out. The phases partition the held
time, so they always sum to the run's gpu_hours. A milestone that was never seen (a run that failed
before its server was ready) leaves the rest of the time with the phase that was under way, which is
where the failure was: an image that cannot be pulled spends its hours in `image_pull`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# in the order they happen; each startup phase ends at the milestone of the same index in STARTUP
PHASES = ("waiting_for_nodes", "image_pull", "weights", "warmup", "accuracy", "measured", "idle", "teardown")
STARTUP = (("waiting_for_nodes", "scheduled"), ("image_pull", "started"), ("weights", "weights_loaded"),
           ("warmup", "ready"))
LABELS = {"waiting_for_nodes": "waiting for nodes", "image_pull": "image pull", "weights": "weights download/load",
          "warmup": "server warm-up", "accuracy": "accuracy check", "measured": "measured benchmark",
          "idle": "idle between points", "teardown": "teardown"}


@dataclass
class Timeline:
    held_from: float  # deploy started: the GPUs are asked for from here
    held_until: float  # teardown ended (or the last stage that ran)
    gpus: int
    scheduled: float | None = None  # the last GPU pod bound to a node (PodScheduled)
    started: float | None = None  # the last GPU container started: its image pulled and the container created
    weights_loaded: float | None = None  # the framework's weights-loaded line (parsers.server_log)
    ready: float | None = None  # the server answered (wait_ready), or an offline Job ended
    teardown_start: float | None = None
    accuracy: tuple[float, float] | None = None
    points: list[tuple[float, float]] = field(default_factory=list)  # each point's and search step's Job
    offline: bool = False  # the workload Job is the benchmark: after its weights, it measures


def _clip(spans: list[tuple[float, float]], lo: float, hi: float) -> list[tuple[float, float]]:
    """The spans inside [lo, hi], merged where they overlap."""
    inside = sorted((max(a, lo), min(b, hi)) for a, b in spans if b is not None and min(b, hi) > max(a, lo))
    merged: list[tuple[float, float]] = []
    for a, b in inside:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _length(spans: list[tuple[float, float]]) -> float:
    return sum(b - a for a, b in spans)


def _phase(phase: str, offline: bool) -> str:
    return "measured" if offline and phase == "warmup" else phase  # an offline Job benchmarks right after its weights


def split(t: Timeline) -> dict:
    """{"seconds": {phase: s}, "gpu_hours": {phase: h}, "measured_share": ratio, "notes": [...]}."""
    end = max(t.held_until, t.held_from)
    serving_end = min(max(t.teardown_start or end, t.held_from), end)
    seconds = dict.fromkeys(PHASES, 0.0)
    notes: list[str] = []
    at = t.held_from
    for phase, milestone in STARTUP:
        when = getattr(t, milestone)
        if when is None:
            notes.append(f"no {milestone.replace('_', ' ')} time was seen")
            continue
        when = min(max(when, at), serving_end)  # milestones in order, inside the held time
        seconds[_phase(phase, t.offline)] += when - at
        at = when
    if t.ready is None:  # the server never came up: the rest went to the first phase that did not end
        rest = next(p for p, m in STARTUP if getattr(t, m) is None)
        seconds[_phase(rest, t.offline)] += serving_end - at
    else:
        points = _clip(t.points, at, serving_end)
        accuracy = _clip([t.accuracy], at, serving_end) if t.accuracy else []
        # the accuracy Job and the points' Jobs run one after the other; where clocks make them overlap,
        # the overlap is measured time
        seconds["measured"] += _length(points)
        seconds["accuracy"] += max(_length(accuracy) - _overlap(accuracy, points), 0.0)
        seconds["idle"] += max(serving_end - at - seconds["accuracy"] - _length(points), 0.0)
    seconds["teardown"] = end - serving_end
    held = end - t.held_from
    return {"seconds": {p: round(s, 3) for p, s in seconds.items()},
            "gpu_hours": {p: t.gpus * s / 3600 for p, s in seconds.items()},
            "measured_share": seconds["measured"] / held if held > 0 else None, "notes": notes}


def _overlap(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float:
    return sum(max(0.0, min(x2, y2) - max(x1, y1)) for x1, x2 in a for y1, y2 in b)


def from_ledger(ledger: dict, gpus: int, offline: bool, held_from: float, held_until: float) -> Timeline:
    """The timeline a run's ledger holds: its stages' times, ready_at, point_times and the startup
    milestones pipeline.environment saw on its pods."""
    stages, startup = ledger.get("stages") or {}, ledger.get("startup") or {}
    accuracy = stages.get("accuracy") or {}
    ran_accuracy = bool((ledger.get("accuracy") or {}).get("task")) and accuracy.get("end")
    return Timeline(held_from=held_from, held_until=held_until, gpus=gpus, offline=offline,
                    scheduled=startup.get("scheduled"), started=startup.get("started"),
                    weights_loaded=startup.get("weights_loaded"), ready=ledger.get("ready_at"),
                    teardown_start=(stages.get("teardown") or {}).get("start"),
                    accuracy=(accuracy["start"], accuracy["end"]) if ran_accuracy else None,
                    points=[(a, b) for a, b in (ledger.get("point_times") or {}).values() if a and b])
