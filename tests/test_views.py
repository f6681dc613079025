"""The pure parts of the dashboard (issue 25, item 3): a view's URL read and written back, dated axes,
the rows a page offers for download, several recipes on one frontier."""

import datetime as dt
import json

import pytest
from recipebench.results.pages import Scope
from recipebench.ui.charts import time_ticks
from recipebench.ui.downloads import render
from recipebench.ui.frontier import frontier_page
from recipebench.ui.query import BadQuery, View, parse

TODAY = dt.date(2026, 12, 1)


def stamp(text):
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


def test_time_axes_are_labelled_with_dates_or_hours():
    nights = time_ticks(stamp("2026-11-01 02:00"), stamp("2026-11-30 02:00"))
    assert [label for _, label in nights] == ["10-29", "11-05", "11-12", "11-19", "11-26", "12-03"]
    assert nights[0][0] <= stamp("2026-11-01 02:00") and nights[-1][0] >= stamp("2026-11-30 02:00")
    day = [label for _, label in time_ticks(stamp("2026-11-01 01:00"), stamp("2026-11-01 13:00"))]
    assert day[:2] == ["11-01 00:00", "11-01 02:00"]  # 12 hours in steps of 2
    across = [label for _, label in time_ticks(stamp("2026-12-20 00:00"), stamp("2027-01-10 00:00"))]
    assert across[0].startswith("2026-") and across[-1].startswith("2027-")
    assert len(time_ticks(stamp("2026-11-01 01:00"), stamp("2026-11-01 01:00"))) >= 2  # one instant: still an axis


def test_a_view_reads_its_url_and_writes_it_back():
    view = parse(TODAY, 30, filters={"accelerator": "a4", "model": None}, metric="ttft", stat="p99")
    assert view.scope == Scope(dt.date(2026, 11, 1), None, {"accelerator": "a4"})
    assert view.column() == "ttft_p99_ms" and view.column("throughput") == "output_throughput"
    assert view.query() == "?days=30&accelerator=a4&metric=ttft&stat=p99"
    assert view.query({"run": "r1"}, stat="p50") == "?days=30&accelerator=a4&metric=ttft&stat=p50&run=r1"
    assert parse(TODAY).query() == ""  # the defaults: a bare URL
    ranged = parse(TODAY, since="2026-10-01", until="2026-10-31")
    assert ranged.scope == Scope(dt.date(2026, 10, 1), dt.date(2026, 10, 31)) and ranged.days is None
    assert ranged.query() == "?from=2026-10-01&to=2026-10-31" and "2026-10-01 to 2026-10-31" in ranged.window_text()
    assert View().column("tpot") == "tpot_median_ms"  # no window: the statistic's default


@pytest.mark.parametrize("kwargs, said", [
    ({"days": 4000}, "days=4000: from 1 to 3660 days back from today"),
    ({"since": "yesterday"}, "from='yesterday': a date is written YYYY-MM-DD"),
    ({"since": "2000-01-01"}, "a page covers at most 3660 days"),
    ({"metric": "latency"}, "metric='latency': one of throughput, per_gpu, ttft, tpot, itl, e2e"),
    ({"filters": {"gpu": "b200"}}, "gpu: pages filter by accelerator, framework, model, precision"),
])
def test_a_view_out_of_range_names_what_is_accepted(kwargs, said):
    with pytest.raises(BadQuery, match=said.replace("(", r"\(").replace(")", r"\)")):
        parse(TODAY, **kwargs)


def test_downloads_hold_the_rows_as_csv_and_json():
    rows = [{"recipe": "a", "reason": 'OOM, "killed"', "at": dt.datetime(2026, 11, 30, 1, tzinfo=dt.UTC)},
            {"recipe": "b", "extra": 1.5}]
    text = render(rows, "csv")
    assert text.splitlines()[0] == "recipe,reason,at,extra"
    assert text.splitlines()[1] == 'a,"OOM, ""killed""",2026-11-30T01:00:00+00:00,'
    assert json.loads(render(rows, "json"))[0]["at"] == "2026-11-30T01:00:00+00:00"


def test_several_recipes_share_one_frontier_with_a_colour_each():
    def run(recipe, accel):
        return {"run_id": f"{recipe}-r", "recipe": recipe, "accelerator": accel, "framework": "vllm",
                "precision": "fp8", "gpu_count": 8, "started_at": 1, "simulated": True}

    def point(recipe, conc, user, per_gpu):
        return {"run_id": f"{recipe}-r", "point_id": f"c{conc}", "concurrency": conc, "tokens_per_s_per_user": user,
                "output_throughput_per_gpu": per_gpu, "output_throughput": per_gpu * 8}

    runs = [run("h200", "a3-ultra"), run("b200", "a4"), run("gone", "a4")]
    results = [point("h200", 8, 60.0, 300.0), point("h200", 64, 20.0, 900.0), point("b200", 8, 90.0, 500.0)]
    page = frontier_page(runs, results, ["h200", "b200", "gb200"], parse(TODAY))
    assert page["chart"].series_count == 2 and page["chart"].point_count == 3
    assert len({s.color for s in page["chart"].series}) == 2
    assert page["missing"] == ["gb200"]  # chosen, no successful run in the window
    assert [(r["recipe"], r["concurrency"], r["precision"], r["gpu_count"]) for r in page["rows"]] == [
        ("h200", 64, "fp8", 8), ("h200", 8, "fp8", 8), ("b200", 8, "fp8", 8)]  # by interactivity, per recipe
