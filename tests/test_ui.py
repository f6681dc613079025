"""The results app in-process (FastAPI's TestClient): what each page shows from warehouse rows, and
what it refuses. Authentication is replaced by a fixed user here; tests/test_ui_live.py checks
Airflow's own against a running api-server."""

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from recipebench.results.regressions import number
from recipebench.ui import app as appmod
from recipebench.ui.charts import nice_ticks
from recipebench.ui.query import parse

from tests.test_alerts import Nights

pytestmark = pytest.mark.e2e  # every page over a warehouse of generated nights, DuckDB and the BigQuery emulator


class Viewer:
    def get_name(self):
        return "viewer"


@pytest.fixture(params=["duckdb", "bigquery"])
def client(request, monkeypatch):
    """The pages over DuckDB and over BigQuery (the official client against the emulator)."""
    warehouse = request.getfixturevalue("duck" if request.param == "duckdb" else "bq")
    monkeypatch.setattr(appmod, "_warehouse", lambda: warehouse)
    prefix = f"rpage{request.param[0]}"
    nights = Nights(warehouse, prefix)
    for value in (1000, 1015, 990, 1005, 790):
        nights.run(value)
    nights.run(fail=("wait_ready", "ImagePullBackOff: image x:y not found"))
    readable = {"vllm-a4-deepseek-r1"}
    monkeypatch.setattr(appmod, "allowed", lambda user, ids: set(ids) & readable)
    app = appmod.create_app()
    app.dependency_overrides[appmod.current_user] = Viewer
    client = TestClient(app)
    client.run = lambda night: f"{prefix}{night:04d}"  # the run key of a night
    return client


def charts(html):
    return dict(re.findall(r'data-chart="([^"]+)" data-series="\d+" data-points="(\d+)"', html))


def test_the_recipe_page_draws_its_charts_and_lists_failures(client):
    page = client.get("/recipes/vllm-a4-deepseek-r1")
    assert page.status_code == 200
    drawn = charts(page.text)
    assert int(drawn["throughput-concurrency"]) == 2  # the run and its baseline
    assert int(drawn["frontier"]) == 5 and int(drawn["trend-i1000-o1000-cmax-rinf-n1100"]) == 5
    assert 'class="regression"' in page.text and 'class="band"' in page.text
    assert "wait_ready: ImagePullBackOff: image x:y not found" in page.text and "SIMULATED" in page.text
    assert f"compare?a={client.run(3)}&amp;b={client.run(4)}" in page.text
    # each point offers the command line and REST call that run it again
    assert "run this point again" in page.text and "recipebench run vllm-a4-deepseek-r1 --param input_len=1000" in \
        page.text and "/api/v2/dags/vllm-a4-deepseek-r1/dagRuns" in page.text


def test_the_overview_shows_the_open_regression_and_the_failure(client):
    page = client.get("/")
    assert page.status_code == 200 and int(charts(page.text)["overview-trend"]) == 5
    assert re.search(r"output_throughput -2\d\.\d%", page.text) and "ImagePullBackOff" in page.text
    assert "sglang-a3ultra-llama4-scout" not in page.text  # a recipe the user may not read is not listed


def test_compare_shows_the_change_and_the_inputs(client):
    page = client.get("/compare", params={"a": client.run(3), "b": client.run(4)})
    assert page.status_code == 200
    assert re.search(r"output tok/s</td><td class=\"num\">1,005</td><td class=\"num\">790</td>\s*"
                     r"<td class=\"num worse\">-21\.4%", page.text)
    assert "No difference in image, digest, args, fingerprint or hardware." in page.text


def test_what_is_refused(client):
    assert client.get("/recipes/sglang-a3ultra-llama4-scout").status_code == 403
    assert client.get("/api/runs/nope").json() == {"detail": "no run 'nope' in the warehouse"}
    assert client.get(f"/runs/{client.run(4)}/artifacts/../../ledger.json").status_code == 404
    listing = client.get(f"/runs/{client.run(4)}/artifacts")
    assert listing.status_code == 200 and "ledger.json" in listing.text
    assert client.get(f"/runs/{client.run(4)}/artifacts/ledger.json").json()["simulated"] is True


def test_axis_ticks_and_numbers_read_well():
    assert nice_ticks(0, 1036) == [0, 500, 1000, 1500]
    assert nice_ticks(32.5, 41.3) == [32, 34, 36, 38, 40, 42]
    assert [number(v) for v in (None, 10430.2, 24.19, 0.006667, 1100)] == ["–", "10,430", "24.19", "0.006667", "1,100"]


# -- what a hostile signed-in user tries (security round two, items 1, 2 and 12) ------------------------

ESCAPES = ["//etc/passwd", "%2Fetc%2Fpasswd", "%2Fproc%2Fself%2Fenviron", "..%2F..%2Fledger.json",
           "raw/..%2F..%2F..%2Fother-recipe%2Fr1%2Fledger.json", "a%5C..%5C..%5Cledger.json"]


@pytest.mark.parametrize("name", ESCAPES)
def test_no_file_outside_the_runs_prefix_is_served(client, name):
    page = client.get(f"/runs/{client.run(4)}/artifacts/{name}")
    assert page.status_code == 404, page.text
    assert "root:" not in page.text and "PATH=" not in page.text


def test_a_symlink_inside_the_prefix_is_not_followed_out(client):
    from recipebench.pipeline import artifacts

    prefix = artifacts.run_prefix("vllm-a4-deepseek-r1", client.run(4))
    import os

    os.symlink("/etc/passwd", os.path.join(prefix.path, "passwd"))
    os.symlink("/proc/self", os.path.join(prefix.path, "proc"))
    assert client.get(f"/runs/{client.run(4)}/artifacts/passwd").status_code == 404
    assert client.get(f"/runs/{client.run(4)}/artifacts/proc/environ").status_code == 404
    listing = client.get(f"/runs/{client.run(4)}/artifacts").text
    assert "passwd" not in listing and "environ" not in listing and "ledger.json" in listing


def test_a_run_of_a_recipe_the_user_may_not_read_does_not_exist(client, monkeypatch):
    monkeypatch.setattr(appmod, "allowed", lambda user, ids: set())
    for path in (f"/runs/{client.run(4)}/artifacts", f"/runs/{client.run(4)}/artifacts/ledger.json",
                 f"/api/runs/{client.run(4)}"):
        assert client.get(path).status_code == 404


PAYLOAD = '<script>alert(document.cookie)</script><img src=x onerror=alert(1)>'


def test_what_the_request_says_comes_back_escaped(client):
    echoed = 0
    for path, params in (("/compare", {"a": PAYLOAD, "b": PAYLOAD}), (f"/runs/{PAYLOAD}/artifacts", None),
                         (f"/runs/{client.run(4)}/artifacts/{PAYLOAD}", None), (f"/{PAYLOAD}", None)):
        page = client.get(path, params=params, headers={"Accept": "text/html"})
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
        assert "<script>" not in page.text and "<img" not in page.text
        echoed += "&lt;script&gt;alert(document.cookie)&lt;/script&gt;" in page.text
    assert echoed >= 2  # the compare and artifact pages name what was asked for, escaped


def test_every_page_sends_the_security_headers(client):
    for path in ("/", "/recipes/vllm-a4-deepseek-r1", "/nope", f"/runs/{client.run(4)}/artifacts/ledger.json",
                 "/static/style.css"):
        headers = client.get(path, headers={"Accept": "text/html"}).headers
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'self'" in csp
        # one script of the project's own file (static/links.js), nothing inline, nothing from elsewhere
        assert "script-src 'self';" in csp and "unsafe" not in csp
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "SAMEORIGIN"
    assert client.get("/static/style.css").headers["content-type"].startswith("text/css")


def test_no_template_and_no_handler_writes_html_by_hand():
    """Every HTML string comes out of an autoescaping Jinja template: no f-string builds markup."""
    import ast
    from pathlib import Path

    for module in Path(appmod.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.JoinedStr):
                text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
                assert not re.search(r"<(h\d|p|div|span|a|td|tr|table)\b", text), f"{module.name}: {text}"


def test_a_corrupt_warehouse_is_a_503_with_the_reason(monkeypatch, tmp_path):
    from tests.test_hardening import corrupt_duckdb

    warehouse = corrupt_duckdb(tmp_path / "corrupt.duckdb", "vllm-a4-deepseek-r1")  # a recipe of the catalog
    monkeypatch.setattr(appmod, "_warehouse", lambda: warehouse)
    monkeypatch.setattr(appmod, "allowed", lambda user, ids: set(ids))
    app = appmod.create_app()
    app.dependency_overrides[appmod.current_user] = Viewer
    # its rows are of 2026-01-01: a window that holds them reads the corrupt blocks
    page = TestClient(app).get("/?days=3660", headers={"Accept": "text/html"})
    assert page.status_code == 503 and "the warehouse cannot be read" in page.text and "Corrupt" in page.text


def test_the_recipe_page_draws_trials_as_error_bars_invalid_points_hollow_and_the_accuracy():
    """Issue 22, item 5: the median trial with its trials' range, an invalid point hollow with its reasons,
    and each run's accuracy score."""
    from recipebench.ui import data
    from recipebench.ui.app import _env

    run = {"run_id": "r1", "recipe": "x", "status": "success", "started_at": 1_800_000_000, "gpu_count": 8,
           "simulated": True, "image": "i", "image_digest": None, "machine_type": "m", "fingerprint": "f",
           "failed_stage": None, "reason": None, "trigger": "manual", "gpu_hours": 1.0, "airflow_run_url": None,
           "accuracy_task": "gsm8k", "accuracy_questions": 200, "accuracy_score": 0.43, "accuracy_threshold": 0.91,
           "accuracy_passed": False}
    columns = {c: None for c, _, _ in data.POINT_METRICS} | {"gpu_hour_usd": None, "spread_output_throughput": None}

    def row(point, conc, tput, valid, reasons):
        return columns | {"run_id": "r1", "recipe": "x", "point_id": point, "concurrency": conc, "output_throughput": tput,
                          "output_throughput_per_gpu": tput / 8, "tokens_per_s_per_user": 40.0, "valid": valid,
                          "invalid_reasons": reasons, "trials": 3, "warmup_requests": 16, "spread_output_throughput": 0.05}
    results = [row("a", 8, 1000.0, True, ["unknown: achieved concurrency"]),
               row("b", 64, 3000.0, False, ["accuracy 0.43 < 0.91 (gsm8k, 200 questions)"])]
    trials = [{"run_id": "r1", "point_id": "a", "trial": k, "output_throughput": v} for k, v in ((1, 980.0), (2, 1000.0),
                                                                                              (3, 1030.0))]
    view = parse(dt.date(2026, 12, 1))
    page = data.recipe_page("x", [run], results, [], [], trials=trials, view=view)
    (series,) = page["charts"]["throughput"].series
    assert len(series.errors) == 1 and [hollow for *_, hollow in series.points] == [False, True]
    html = _env().get_template("recipe.html").render(**page, prefix="/rb", airflow="/", user="viewer", selected=None)
    assert html.count('class="errorbar"') == 2  # throughput and frontier, for the point with trials
    assert 'class="point invalid"' in html and "accuracy 0.43 &lt; 0.91 (gsm8k, 200 questions)" in html
    assert "gsm8k 0.43" in html and "3 (5.0%)" in html


def test_the_simulated_badge_follows_the_run_that_produced_the_number():
    """The overview's best figure comes from the last successful run: when that run was simulated and the
    latest (real) run failed, the figure carries the badge and the latest run does not."""
    from recipebench.ui import data

    runs = [{"run_id": "real", "recipe": "r", "status": "failed", "simulated": False, "started_at": 2},
            {"run_id": "sim", "recipe": "r", "status": "success", "simulated": True, "started_at": 1}]
    page = {"runs": runs, "best": {"sim": 900.0}, "verdicts": [], "skipped": {}, "capacity": {}, "weeks": [],
            "alerts": []}
    (row,) = data.overview(["r"], page, parse(dt.date(2026, 12, 1)))["rows"]
    assert (row["simulated"], row["best_simulated"], row["best_per_gpu"]) == (False, True, 900.0)


def test_a_regressed_run_is_shown_regressed_beside_its_status(client):
    """The fifth night fell 21%: the run is a success of the pipeline and says regressed in the runs table
    and on the compare page."""
    page = client.get("/recipes/vllm-a4-deepseek-r1").text
    row = next(r for r in page.split("<tr") if f">{client.run(4)}</a>" in r)
    assert 'badge success">success</span> <span class="badge regressed">regressed' in row
    compare = client.get(f"/compare?a={client.run(3)}&b={client.run(4)}").text
    assert compare.count('class="badge regressed">regressed') == 1


# -- the dashboard (issue 25, item 3): views in the URL, every point's trend, downloads, one frontier ------

def test_every_points_trend_in_the_metric_and_statistic_the_url_asks(client):
    page = client.get("/recipes/vllm-a4-deepseek-r1", params={"metric": "ttft"}).text
    trend = page.split('data-chart="trend-i1000-o1000-cmax-rinf-n1100"')[1].split("</svg>")[0]
    assert 'data-points="5"' in trend and "TTFT p50 ms" in trend and 'class="band"' in trend  # judged: its band
    # dated axis: the nights' UTC dates (T0 = 2027-01-15), not run indexes
    assert re.findall(r'class="tick">(01-1\d|01-2\d)<', trend), trend[:2000]
    p99 = client.get("/recipes/vllm-a4-deepseek-r1", params={"metric": "ttft", "stat": "p99"}).text
    assert "TTFT p99 ms" in p99 and 'data-chart="latency-concurrency"' in p99
    assert 'href="?metric=tpot&amp;stat=p99"' in p99  # the choices keep the rest of the view


def test_the_overview_filters_and_downloads_what_it_shows(client):
    kept = client.get("/", params={"accelerator": "a4"}).text
    assert ">vllm-a4-deepseek-r1</a>" in kept and '<option value="a4" selected>a4 (8x NVIDIA B200)</option>' in kept
    none = client.get("/", params={"accelerator": "a3-mega"}).text
    assert ">vllm-a4-deepseek-r1</a>" not in none and "Only the recipes with a run that matches" in none
    csv_page = client.get("/", params={"accelerator": "a4", "format": "csv"})
    assert csv_page.headers["content-type"].startswith("text/csv")
    assert 'filename="recipes.csv"' in csv_page.headers["content-disposition"]
    header, row = csv_page.text.splitlines()[:2]
    fields = dict(zip(header.split(","), row.split(","), strict=False))
    assert fields["recipe"] == "vllm-a4-deepseek-r1" and fields["latest_status"] == "failed"
    assert fields["best_output_throughput_per_gpu"] == "98.75"  # 790 tok/s on 8 GPUs, the last success
    points = client.get("/recipes/vllm-a4-deepseek-r1", params={"format": "json"}).json()
    assert [(p["run_id"], p["output_throughput"], p["verdict"]) for p in points] == [(client.run(4), 790.0, "regressed")]


def test_a_window_or_format_out_of_range_is_refused_in_words(client):
    for params, said in (({"days": 0}, "days=0: from 1 to 3660 days back from today"),
                         ({"from": "2026-13-01"}, "from='2026-13-01': a date is written YYYY-MM-DD"),
                         ({"from": "2027-02-01", "to": "2027-01-01"}, "from=2027-02-01 is after to=2027-01-01"),
                         ({"stat": "p95"}, "stat='p95': one of p50, p90, p99, mean"),
                         ({"format": "xml"}, "format='xml': one of html, csv, json")):
        answer = client.get("/", params=params)
        assert answer.status_code == 400 and said in answer.json()["detail"], (params, answer.text)


def test_a_date_range_in_the_url_is_a_permalink(client):
    window = {"from": "2027-01-15", "to": "2027-01-17"}
    page = client.get("/recipes/vllm-a4-deepseek-r1", params=window).text
    runs = page.split('id="runs"')[1].split("</table>")[0]
    assert runs.count("<tr class=") == 3 and "2027-01-15 to 2027-01-17 (UTC)" in page
    assert f'?from=2027-01-15&amp;to=2027-01-17&amp;run={client.run(1)}"' in runs  # each run's link keeps the window


def test_the_frontier_puts_chosen_recipes_on_one_chart(client):
    page = client.get("/frontier", params={"recipe": "vllm-a4-deepseek-r1"})
    assert page.status_code == 200 and int(charts(page.text)["cross-frontier"]) == 1
    assert "vllm-a4-deepseek-r1 (a4, vllm, fp8) concurrency max" in page.text and client.run(4) in page.text
    rows = client.get("/frontier", params={"recipe": "vllm-a4-deepseek-r1", "format": "json"}).json()
    assert [(r["recipe"], r["run_id"], r["output_throughput_per_gpu"], r["precision"]) for r in rows] == [
        ("vllm-a4-deepseek-r1", client.run(4), 98.75, "fp8")]
    assert client.get("/frontier", params={"recipe": "sglang-a3ultra-llama4-scout"}).status_code == 403
