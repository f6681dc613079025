"""Skip a night when nothing changed (schedule_policy when-changed), as a pure decision.

A run is skipped, before any GPU is held, when the recipe's last valid run (a success whose every point
was valid) ran the same image (by digest where both digests are known, else by reference: a tag moved
to other bytes is then not seen, and the reason says so), the same fingerprint (what determines the
numbers) and the same cluster version, less than force_every_days ago. A person's `force` param, or
any trigger param that changes the plan (it changes the fingerprint), runs it.
"""

from __future__ import annotations

from typing import Any


def decide(policy: str, force_every_days: int, last: dict[str, Any] | None, current: dict[str, Any], now: float,
           forced: bool = False) -> dict[str, Any] | None:
    """None: run. Else {reason, matches (the run it matches), gpu_hours_saved}.

    last: the runs row of the last valid run (run_id, started_at in epoch seconds, fingerprint, image,
    image_digest, cluster_version, gpu_hours). current: the same fields of this run."""
    if policy != "when-changed" or forced or last is None:
        return None
    age_days = (now - float(last["started_at"])) / 86400
    if age_days >= force_every_days:
        return None
    for field in ("fingerprint", "image", "cluster_version"):
        if current.get(field) != last.get(field):
            return None
    digests = current.get("image_digest"), last.get("image_digest")
    if all(digests) and digests[0] != digests[1]:
        return None
    by = "digest" if all(digests) else "reference (a digest is not known: a tag moved to other bytes is not seen)"
    return {"reason": f"nothing changed since run {last['run_id']} ({age_days:.1f} days ago, under "
                      f"force_every_days {force_every_days}): the same image by {by}, fingerprint "
                      f"{current.get('fingerprint')} and cluster {current.get('cluster_version')}",
            "matches": last["run_id"], "gpu_hours_saved": last.get("gpu_hours")}
