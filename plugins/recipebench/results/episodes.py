"""When to tell people about a recipe: one message when a regression episode or a failure streak
starts, one when it ends. A pure decision over the recipe's runs and verdicts, newest first.

A night that regresses after nights that did not opens an episode; the nights that stay regressed
say nothing more; the first night whose points are all back inside their bands closes it. Failed
runs are their own track: the first failure of a streak is told (with stage and reason), the ones
after it are not, and the first success after it closes it. A failed night neither opens nor
closes a regression episode: the regression track looks at successful runs only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from recipebench.catalog.vocabulary import AlertKind, RunStatus, Verdict
from recipebench.results.inputs import input_diff
from recipebench.results.regressions import CAPACITY, capacity_line, metric_details, number


@dataclass
class Alert:
    kind: str  # an AlertKind: regression, failing, invalid, each with its -recovered
    recipe: str
    run_id: str
    subject: str
    lines: list[str]
    points: list[dict[str, Any]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join([self.subject, *self.lines])


def regressed(verdicts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in verdicts if v.get("verdict") == Verdict.REGRESSED]


def invalid(verdicts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in verdicts if v.get("verdict") == Verdict.INVALID]


def _invalid_lines(verdicts: list[dict[str, Any]]) -> list[str]:
    lines = []
    for v in sorted(verdicts, key=lambda v: v["point_id"]):
        details = v.get("details") or {}
        details = json.loads(details) if isinstance(details, str) else details
        reasons = [r for r in details.get("invalid_reasons") or [] if not r.startswith("unknown: ")]
        lines.append(f"  {v['point_id']}: {'; '.join(reasons) or 'invalid'}")
    return lines


def judged(verdicts: list[dict[str, Any]]) -> bool:
    return any(v.get("verdict") in (Verdict.OK, Verdict.REGRESSED) for v in verdicts)


def _point_lines(verdicts: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    lines, points = [], []
    for v in sorted(verdicts, key=lambda v: v["point_id"]):
        if v["point_id"] == CAPACITY and v.get("verdict") == Verdict.REGRESSED:
            lines.append(f"  {capacity_line(v)}")
        for metric, d in metric_details(v):
            if d["regressed"]:
                if v["point_id"] != CAPACITY:
                        lines.append(f"  {v['point_id']}: {metric} {d['change']:+.1%} ({number(d['value'])} against the "
                                 f"median {number(d['baseline'])} of {v['baseline_runs']} runs; noise band "
                                 f"±{d['band']:.1%})")
                points.append({"point_id": v["point_id"], "metric": metric, "value": d["value"],
                               "baseline": d["baseline"], "change": d["change"], "band": d["band"]})
    return lines, points


def decide(current: dict[str, Any], earlier: list[dict[str, Any]], baseline_run: dict[str, Any] | None,
           links: dict[str, str]) -> list[Alert]:
    """current and each of earlier: {"run": runs row, "verdicts": [verdict rows]}; earlier newest
    first. baseline_run: the runs row of the newest run in the current verdicts' baseline.
    links: {"run": Airflow run, "results": recipe page, "compare": baseline against this run}."""
    run = current["run"]
    recipe, run_id = run["recipe"], run["run_id"]
    previous = earlier[0]["run"] if earlier else None
    if run["status"] in (RunStatus.REFUSED, RunStatus.SKIPPED):  # told by the run itself; nothing ran
        return []
    if run["status"] != RunStatus.SUCCESS:
        if previous is not None and previous["status"] != "success":
            return []  # the streak was told when it started
        return [Alert(AlertKind.FAILING, recipe, run_id,
                      f"[recipebench] {recipe}: run failed at {run.get('failed_stage')}",
                      [f"reason: {run.get('reason')}", f"run: {run_id} ({links.get('run', '')})",
                       "further failures of this streak will not be announced; the next success will be",
                       f"results: {links.get('results', '')}"])]
    alerts = []
    if previous is not None and previous["status"] != "success":
        streak = next((i for i, e in enumerate(earlier) if e["run"]["status"] == "success"), len(earlier))
        alerts.append(Alert(AlertKind.FAILING_RECOVERED, recipe, run_id,
                            f"[recipebench] {recipe}: succeeded again after {streak} failed run(s)",
                            [f"run: {run_id} ({links.get('run', '')})", f"results: {links.get('results', '')}"]))
    last_success = next((e for e in earlier if e["run"]["status"] == "success"), None)
    was_regressed = bool(last_success and regressed(last_success["verdicts"]))
    now_regressed = regressed(current["verdicts"])
    if now_regressed and not was_regressed:
        lines, points = _point_lines(now_regressed)
        changes = input_diff(baseline_run, run) if baseline_run else []
        alerts.append(Alert(
            AlertKind.REGRESSION, recipe, run_id,
            f"[recipebench] {recipe}: {len({p['point_id'] for p in points})} point(s) regressed",
            ["points outside their noise band:", *lines,
             f"baseline: the last successful runs of fingerprint {run.get('fingerprint')}"
             + (f", newest {baseline_run['run_id']} of {baseline_run.get('started_at')}" if baseline_run else ""),
             "inputs changed since that run:" if changes else "inputs unchanged since that run (image digest, "
             "args, fingerprint): look at the cluster or the data",
             *(f"  {f}: {a} -> {b}" for f, a, b in changes),
             f"compare: {links.get('compare', '')}", f"run: {run_id} ({links.get('run', '')})",
             "this episode will not be announced again until it recovers"],
            points))
    elif was_regressed and not now_regressed and judged(current["verdicts"]):
        alerts.append(Alert(AlertKind.REGRESSION_RECOVERED, recipe, run_id,
                            f"[recipebench] {recipe}: back inside the noise band",
                            [f"every judged point of run {run_id} is within its band again "
                             f"(the episode opened at or before {last_success['run']['run_id'] if last_success else '?'})",
                             f"results: {links.get('results', '')}"]))
    # the accuracy track: a server that answered wrong; its invalid points are this one message, not two
    was_wrong = bool(last_success and last_success["run"].get("accuracy_passed") is False)
    now_wrong = run.get("accuracy_passed") is False
    if now_wrong and not was_wrong:
        alerts.append(Alert(AlertKind.ACCURACY, recipe, run_id,
                            f"[recipebench] {recipe}: accuracy {run.get('accuracy_score'):.2f} below "
                            f"{run.get('accuracy_threshold'):.2f}",
                            [f"{run.get('accuracy_task')}: {run.get('accuracy_score'):.3f} of "
                             f"{run.get('accuracy_questions')} questions answered right, the recipe needs "
                             f"{run.get('accuracy_threshold'):.2f}: the server answers wrong, so every point of "
                             "this run is invalid (no baseline, no regression check)",
                             f"run: {run_id} ({links.get('run', '')})",
                             "this episode will not be announced again until the accuracy passes",
                             f"results: {links.get('results', '')}"]))
    elif was_wrong and run.get("accuracy_passed") is True:
        alerts.append(Alert(AlertKind.ACCURACY_RECOVERED, recipe, run_id,
                            f"[recipebench] {recipe}: accuracy passes again ({run.get('accuracy_score'):.2f})",
                            [f"run: {run_id} ({links.get('run', '')})", f"results: {links.get('results', '')}"]))
    # the validity track: points whose numbers do not count, told once per episode like the others
    # (a night the accuracy track told of was not told as invalid)
    was_invalid = bool(last_success and invalid(last_success["verdicts"]) and not was_wrong)
    now_invalid = invalid(current["verdicts"])
    if now_wrong:
        pass  # told by the accuracy track
    elif now_invalid and not was_invalid:
        alerts.append(Alert(AlertKind.INVALID, recipe, run_id,
                            f"[recipebench] {recipe}: {len(now_invalid)} point(s) invalid",
                            ["their numbers do not count (no baseline, no regression check):",
                             *_invalid_lines(now_invalid), f"run: {run_id} ({links.get('run', '')})",
                             "this episode will not be announced again until every point is valid",
                             f"results: {links.get('results', '')}"]))
    elif was_invalid and not now_invalid and current["verdicts"]:
        alerts.append(Alert(AlertKind.INVALID_RECOVERED, recipe, run_id,
                            f"[recipebench] {recipe}: every point valid again",
                            [f"run: {run_id} ({links.get('run', '')})", f"results: {links.get('results', '')}"]))
    return alerts
