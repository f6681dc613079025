"""Nights skipped when nothing changed (issue 24, item 4): the decision, pure, and a when-changed recipe
against the simulated cluster."""

import pytest
from recipebench.results.skipping import decide

from tests.conftest import REPO

DAY = 86400.0
LAST = {"run_id": "r1", "started_at": 10 * DAY, "fingerprint": "f", "image": "img:1", "image_digest": None,
        "cluster_version": "v1.33.0", "gpu_hours": 2.5}
SAME = {"fingerprint": "f", "image": "img:1", "image_digest": None, "cluster_version": "v1.33.0"}


def test_nothing_changed_skips_and_says_what_it_compared():
    found = decide("when-changed", 7, LAST, SAME, 12 * DAY)
    assert found["matches"] == "r1" and found["gpu_hours_saved"] == 2.5
    assert "the same image by reference (a digest is not known" in found["reason"] and "2.0 days ago" in found["reason"]
    known = decide("when-changed", 7, LAST | {"image_digest": "sha256:a"}, SAME | {"image_digest": "sha256:a"}, 12 * DAY)
    assert "the same image by digest" in known["reason"]


@pytest.mark.parametrize("change", [
    {"fingerprint": "g"}, {"image": "img:2"}, {"cluster_version": "v1.34.1"}, {"image_digest": "sha256:b"},
])
def test_any_change_runs(change):
    last = LAST | {"image_digest": "sha256:a"}
    assert decide("when-changed", 7, last, SAME | {"image_digest": "sha256:a"} | change, 12 * DAY) is None


def test_the_policy_the_age_and_force_run():
    assert decide("always", 7, LAST, SAME, 12 * DAY) is None
    assert decide("when-changed", 7, None, SAME, 12 * DAY) is None  # nothing valid to compare with
    assert decide("when-changed", 7, LAST, SAME, 17 * DAY) is None  # force_every_days reached
    assert decide("when-changed", 7, LAST, SAME, 12 * DAY, forced=True) is None


@pytest.mark.e2e
def test_a_second_unchanged_run_is_skipped_in_seconds_and_a_changed_tag_runs(cluster_env, scratch_recipes):
    import time

    import yaml
    from recipebench.results.warehouse import open_warehouse

    from tests.conftest import run, runs_row

    raw = yaml.safe_load((REPO / "include" / "recipes" / "vllm-a4-deepseek-r1.yaml").read_text())
    raw |= {"schedule_policy": "when-changed", "force_every_days": 7}
    raw["benchmark"]["repeats"] = 1
    (scratch_recipes / "unchanged.yaml").write_text(yaml.safe_dump(raw))
    first = run("unchanged")
    assert first["status"] == "success", first
    started = time.monotonic()
    second = run("unchanged")
    took = time.monotonic() - started
    assert second["status"] == "skipped", second
    (row,) = open_warehouse().run(f"SELECT status, reason, skipped_matches, gpu_hours_saved, gpu_hours, "
                                  f"cluster_version FROM runs WHERE run_id = '{second['run_id']}'")
    assert row["skipped_matches"] == first["run_id"] and row["gpu_hours"] is None
    assert row["gpu_hours_saved"] == pytest.approx(runs_row(first["run_id"])["gpu_hours"])
    # the control plane's version and the recipe's node pool's, as its nodes report it
    assert row["cluster_version"] == "v1.33.0-recipebench-sim; nodes a4-pool v1.33.5-gke.1080000", row
    assert f"since run {first['run_id']}" in row["reason"]
    assert took < 30, took
    assert open_warehouse().select("alerts", {"run_id": second["run_id"]}, limit=5) == []
    assert open_warehouse().select("results", {"run_id": second["run_id"]}, limit=5) == []
    changed = run("unchanged", {"image_tag": "v0.9.2"})
    assert changed["status"] == "success" and changed["result_rows"] >= 1, changed
    forced = run("unchanged", {"image_tag": "v0.9.2", "force": True})
    assert forced["status"] == "success", forced
