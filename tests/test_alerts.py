"""Alerts people act on: the noise band learnt from the history, one message per regression episode
and its recovery, one per failure streak, sent through Airflow's notifiers, kept in the warehouse."""

import datetime as dt
import json
import logging

import pytest
from recipebench.pipeline.loading import RegressionFound, check_run, load_run
from recipebench.pipeline.notify import notify_run
from recipebench.results.regressions import band, judge

from tests.test_results import DAY, finish, make_run

pytestmark = pytest.mark.e2e  # nights through load, the check and the notifier, DuckDB and the BigQuery emulator

log = logging.getLogger("test")
T0 = 1_800_000_000
# nightly output throughput with ±2.5% noise: inside the 5% floor, and inside the band it learns
NOISE = [1000, 1020, 985, 1010, 995, 1025, 990, 1005, 980, 1015]


class Nights:
    """One scheduled run per night through the pipeline's own load, check and notifier."""

    def __init__(self, warehouse, prefix):
        self.warehouse, self.prefix, self.night, self.sent = warehouse, prefix, 0, []

    def run(self, throughput=None, fail=None):
        run = make_run(f"{self.prefix}{self.night:04d}", T0 + self.night * DAY)
        finish(run, throughput=throughput or 1000.0, fail_at=fail)
        load_run(run.recipe.id, run.run_key, run, self.warehouse, log)
        if not fail:  # check_regressions runs after a successful benchmark only
            try:
                check_run(run, self.warehouse, log)
            except RegressionFound:
                pass
        sent = notify_run(run.recipe.id, run.run_key, {}, self.warehouse,
                          now=dt.datetime.fromtimestamp(T0 + self.night * DAY + 3600, tz=dt.UTC))
        self.night += 1
        self.sent.append(sent)
        return sent


def test_noise_inside_the_band_says_nothing(duck):
    nights = Nights(duck, "rnoise")
    for value in NOISE:
        assert nights.run(value) == []
    verdicts = duck.select("verdicts", {"recipe": "vllm-a4-deepseek-r1"}, limit=1000)
    assert {v["verdict"] for v in verdicts} == {"no-baseline", "ok"}


def test_a_20_percent_drop_alerts_once_and_its_recovery_once(duck):
    nights = Nights(duck, "rdrop")
    for value in NOISE[:7]:
        nights.run(value)
    (alert,) = nights.run(800)  # the drop: exactly one message, whatever the number of points
    assert alert["kind"] == "regression"
    assert {p["point_id"] for p in alert["points"]} == {p.id for p in make_run("x", T0).recipe.benchmark.points}
    text = alert["message"]
    assert "output_throughput -20." in text and "(800 against the median 1,000 of 7 runs; noise band ±5.0%)" in text
    assert "noise band ±5.0%" in text and "inputs unchanged since that run" in text
    assert "/recipebench/compare?a=rdrop0006&b=rdrop0007" in text
    assert nights.run(805) == [] and nights.run(790) == []  # still down: the episode was told
    (recovered,) = nights.run(1002)
    assert recovered["kind"] == "regression-recovered"
    assert nights.run(995) == []
    kinds = [a["kind"] for a in duck.select("alerts", {"recipe": "vllm-a4-deepseek-r1"})]
    assert sorted(kinds) == ["regression", "regression-recovered"]


def test_a_changed_image_digest_is_in_the_message(duck):
    nights = Nights(duck, "rdig")
    for value in NOISE[:4]:
        nights.run(value)
    run = make_run("rdigest001", T0 + 10 * DAY)
    finish(run, throughput=780.0)
    from recipebench.pipeline import artifacts

    artifacts.record(run.recipe.id, run.run_key, image_digest="sha256:" + "b" * 64)
    load_run(run.recipe.id, run.run_key, run, duck, log)
    with pytest.raises(RegressionFound):
        check_run(run, duck, log)
    (alert,) = notify_run(run.recipe.id, run.run_key, {}, duck)
    assert "inputs changed since that run:" in alert["message"]
    assert f"image_digest: (none) -> sha256:{'b' * 64}" in alert["message"]


def test_a_three_night_failure_streak_is_one_message(warehouse, request):
    nights = Nights(warehouse, "rstreak" + request.node.callspec.id[:2])
    for value in NOISE[:4]:
        nights.run(value)
    streak = [nights.run(fail=("wait_ready", "ImagePullBackOff: image x:y not found")) for _ in range(3)]
    assert [len(s) for s in streak] == [1, 0, 0]
    (failing,) = streak[0]
    assert failing["kind"] == "failing" and "run failed at wait_ready" in failing["subject"]
    assert "ImagePullBackOff: image x:y not found" in failing["message"]
    (back,) = nights.run(1000)
    assert back["kind"] == "failing-recovered" and "after 3 failed run(s)" in back["subject"]


def test_the_callback_running_twice_sends_once(duck):
    nights = Nights(duck, "rtwice")
    (first,) = nights.run(fail=("deploy", "Forbidden"))
    assert notify_run("vllm-a4-deepseek-r1", "rtwice0000", {}, duck) == []
    assert first["channels"] == {"log": "sent"}


def test_a_channel_that_fails_is_recorded_and_the_log_still_has_it(duck, monkeypatch, caplog):
    # SMTP configured but no smtp connection exists: the provider's notifier raises; the alert is
    # still logged and stored, with the channel's failure beside it
    monkeypatch.setenv("RECIPEBENCH_ALERT_EMAIL", "perf-team@example.com")
    monkeypatch.setenv("RECIPEBENCH_ALERT_SMTP_CONN", "recipebench_missing_smtp")
    nights = Nights(duck, "rchan")
    with caplog.at_level(logging.WARNING, logger="recipebench.alerts"):
        (alert,) = nights.run(fail=("deploy", "Forbidden"))
    assert alert["channels"]["log"] == "sent" and alert["channels"]["smtp"].startswith("failed: ")
    assert "SMTP connection is not found" in alert["channels"]["smtp"]
    assert any("ALERT [recipebench] vllm-a4-deepseek-r1: run failed at deploy" in r.message for r in caplog.records)


@pytest.mark.parametrize("history, floor, width", [
    ([1000, 1000, 1000], 0.05, 0.05),  # no spread: the floor
    ([1000, 1020, 985, 1010, 995], 0.05, 0.05),  # small spread: still the floor
    ([1000, 1200, 850, 1100, 900], 0.05, 3 * 1.4826 * 100 / 1000),  # wide spread: 3 robust sigmas
])
def test_the_band_is_learnt_from_the_spread_never_tighter_than_the_floor(history, floor, width):
    assert band(history, floor, 3.0)[1] == pytest.approx(width)


def test_a_noisy_point_needs_a_bigger_drop():
    noisy = [{"output_throughput": v} for v in (1000, 1200, 850, 1100, 900)]
    steady = [{"output_throughput": v} for v in (1000, 1010, 990, 1005, 995)]
    assert judge({"output_throughput": 800}, steady, 0.05, 3)["verdict"] == "regressed"
    assert judge({"output_throughput": 800}, noisy, 0.05, 3)["verdict"] == "ok"


def test_the_input_diff_names_each_changed_recipe_field():
    from recipebench.catalog.recipe import load_recipe
    from recipebench.results.inputs import input_diff

    base = load_recipe("vllm-a4-deepseek-r1")
    args = {**base.serving.args, "max-num-seqs": 256}
    changed = base.model_copy(update={"serving": base.serving.model_copy(update={"args": args})})
    row = lambda r: {"fingerprint": r.fingerprint(), "inputs": json.dumps(r.determining()), "image": "x"}  # noqa: E731
    diff = input_diff(row(base), row(changed))
    assert [d[0] for d in diff] == ["fingerprint", "serving.args.max-num-seqs"]
    assert diff[1] == ("serving.args.max-num-seqs", "1024", "256")
    assert input_diff(row(base), row(base)) == []
