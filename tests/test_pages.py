"""The results pages over history past every former row limit (issue 25, item 1): generated nights
(benchmarks/history.py) through the project's schema, the overview's best figure and open regressions
for every recipe checked against direct queries, the recipe page's window, and the statements'
bounds on the partitioning column."""

import sys
import time

import pytest

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))

import history  # noqa: E402
import results_pages  # noqa: E402


@pytest.fixture(scope="module")
def year(tmp_path_factory):
    """100 recipes x 60 nights x 10 points: 6,000 runs and about 55,000 results and verdicts, past the
    5,000 runs and 50,000 results and verdicts the overview used to read."""
    tmp = tmp_path_factory.mktemp("pages")
    path = str(tmp / "w.duckdb")
    counts = history.generate(path, 100, 60, 10, end=time.strftime("%Y-%m-%d", time.gmtime()))
    assert counts["runs"] == 6000 and counts["results"] > 50000 and counts["verdicts"] > 50000, counts
    results_pages._catalog(tmp / "recipes", 100)
    return {"path": path, "recipes": tmp / "recipes"}


@pytest.fixture
def client(year, monkeypatch):
    monkeypatch.setenv("RECIPEBENCH_WAREHOUSE", f"duckdb://{year['path']}")
    monkeypatch.setenv("RECIPEBENCH_RECIPES_DIR", str(year["recipes"]))
    from recipebench.ui import app as appmod

    monkeypatch.setattr(appmod, "allowed", appmod.allowed)  # restored after the benchmark's override
    return results_pages._client()


def test_every_recipe_shows_its_best_figure_and_open_regressions(year, client):
    since = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 90 * 86400))
    from recipebench.results.regressions import number

    want = {r: (number(best) if best is not None else "-", points)
            for r, (best, points) in results_pages.expected_overview(
                year["path"], [history.recipe_id(i) for i in range(100)], since).items()}
    got = results_pages.shown_overview(client, 90)
    assert len(got) == 100 and sum(bool(p) for _, p in want.values()) >= 2, "the history has regressed latest runs"
    assert {r: got.get(r) for r in want} == want


def test_the_recipe_page_draws_its_newest_runs_and_reaches_an_older_one(client):
    page = client.get(f"/recipes/{history.recipe_id(7)}").text
    runs = page.split('id="runs"')[1].split("</table>")[0]
    assert runs.count("<tr class=") == 30  # data.RUNS_SHOWN, the newest first
    assert ">h7-0</a>" in runs and ">h7-30</a>" not in runs
    older = client.get(f"/recipes/{history.recipe_id(7)}?run=h7-45").text  # a permalink past the window's 30
    assert "<h2>Run h7-45 (" in older  # its points drawn
    older_runs = older.split('id="runs"')[1].split("</table>")[0]
    assert older_runs.count("<tr class=") == 31 and '<tr class="selected">' in older_runs.split(">h7-45</a>")[0][-400:]


def test_every_page_statement_is_bounded_on_the_partition_column(monkeypatch):
    """A page view on BigQuery must read its window's partitions, not whole tables: every statement
    the pages run names run_date in its WHERE, for every table it reads."""
    import datetime as dt
    import re

    from recipebench.results import pages
    from recipebench.results.warehouse import DuckDBWarehouse

    seen = []
    wh = DuckDBWarehouse(":memory:")
    monkeypatch.setattr(wh, "_run", lambda sql, params=None: seen.append(sql) or [])
    scope = pages.Scope(dt.date(2026, 9, 1), dt.date(2026, 11, 30), {"accelerator": "b200", "precision": "fp8"})
    pages.overview(wh, ["a", "b"], scope, dt.date(2026, 10, 20))
    pages.recipe(wh, "a", scope, 30, "older")
    pages.frontier(wh, ["a", "b"], scope)
    pages.choices(wh, ["a", "b"], scope)
    assert len(seen) >= 13
    for sql in seen:
        tables = re.findall(r"FROM (\w+)|JOIN (\w+)", sql)
        assert tables and "run_date" in sql, sql
        for name in {a or b for a, b in tables}:
            # each table read is filtered on run_date (its alias `x.run_date`, or bare when it is alone)
            assert re.search(rf"\b{name}\b[^()]*?WHERE[^()]*run_date|run_date >=", sql), (name, sql)


def test_the_pages_statements_run_on_duckdb_and_bigquery(warehouse):
    """The same statements on both warehouses (BigQuery through the official client against the
    emulator): the latest run per recipe (a failure), the best figure of each success, the recipe page's
    window and a run selected from before it."""
    import datetime as dt
    import logging

    from recipebench.pipeline.loading import load_run
    from recipebench.results import pages

    from tests.test_results import finish, make_run

    day = 86400
    keys = []
    for i, (throughput, fail) in enumerate([(1000.0, None), (1200.0, None), (0.0, ("deploy", "quota"))]):
        run = make_run(f"rpage{i:05d}", 1_800_000_000 + i * day)
        finish(run, throughput=throughput, fail_at=fail)
        load_run(run.recipe.id, run.run_key, run, warehouse, logging.getLogger("test"))
        keys.append(run.run_key)
    recipe = run.recipe.id
    since, until = dt.date(2027, 1, 1), dt.date(2027, 2, 1)
    with warehouse.session():
        view = pages.overview(warehouse, [recipe, "no-such-recipe"], pages.Scope(since, until), since)
        page = pages.recipe(warehouse, recipe, pages.Scope(dt.date(2027, 1, 16), until), 1, keys[0])
        narrowed = pages.overview(warehouse, [recipe], pages.Scope(since, until, {"accelerator": "a3-mega"}), since)
        frontier = pages.frontier(warehouse, [recipe], pages.Scope(since, until, {"accelerator": "a4"}))
        menus = pages.choices(warehouse, [recipe], pages.Scope(since, until))
    latest = [r for r in view["runs"] if r["nth"] == 1]
    assert [(r["run_id"], r["status"], r["failed_stage"]) for r in latest] == [(keys[2], "failed", "deploy")]
    assert view["best"] == {keys[0]: 125.0, keys[1]: 150.0}  # output tok/s per GPU, 8 GPUs
    assert [r["run_id"] for r in page["runs"]] == [keys[2], keys[0]]  # the window's newest and the selected
    assert {r["run_id"] for r in page["results"]} == {keys[0]}
    assert narrowed["runs"] == [] and narrowed["best"] == {}  # no run of that accelerator
    assert [r["run_id"] for r in frontier["runs"]] == [keys[1]] and {r["run_id"] for r in frontier["results"]} == {keys[1]}
    assert menus["accelerator"] == ["a4"] and menus["framework"] == ["vllm"] and menus["precision"], menus
