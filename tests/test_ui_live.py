"""The results pages in a real Airflow: `airflow standalone` (api-server with the plugin, scheduler,
dag-processor, triggerer) on an AIRFLOW_HOME where two recipes ran a few times against the
simulated cluster (the fourth vllm night on a newer driver and 20% slower: a regression the pages and
its alert must show, with the driver named).

- the api-server refuses an anonymous request (401, or Airflow's login page for a browser) and
  answers an authenticated one (JWT from Airflow's /auth/token) with the run's numbers;
- Debian's chromium, headless, logs in through Airflow's login page, opens the results page, a
  recipe page and a comparison, fails on a missing chart or an error page, and leaves screenshots
  in var/screenshots/ (ignored by git).
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote, unquote

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.e2e  # a real airflow standalone and a browser

SCREENSHOTS = REPO / "var" / "screenshots"
USERS = {"perf": "perf-viewer-pw-1", "ops": "ops-admin-pw-2"}
RECIPES = ("vllm-a4-deepseek-r1", "sglang-a3ultra-llama4-scout")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(env, *args, scenario=None, exit_code=0):
    env = {**env, **({"RECIPEBENCH_SIM_SCENARIO": scenario} if scenario else {})}
    out = subprocess.run([sys.executable, "-m", "recipebench", *args], env=env, capture_output=True, text=True,
                         timeout=600)
    errors = [line for line in (out.stdout + out.stderr).splitlines() if "rror" in line or "Exception" in line]
    assert out.returncode == exit_code, "\n".join([*errors[-15:], out.stdout[-1500:]])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _get(url, headers=None, method="GET", body=None):
    request = urllib.request.Request(url, headers=headers or {}, method=method,
                                     data=json.dumps(body).encode() if body is not None else None)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=30) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


@pytest.fixture(scope="module")
def airflow(tmp_path_factory):
    work = tmp_path_factory.mktemp("live")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    passwords = work / "passwords.json"
    passwords.write_text(json.dumps(USERS))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECIPEBENCH_", "AIRFLOW"))}
    env.update(
        PYTHONPATH=str(REPO / "plugins"), AIRFLOW_HOME=str(work / "home"),
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"), AIRFLOW__CORE__PLUGINS_FOLDER=str(REPO / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False", AIRFLOW__API__HOST="127.0.0.1", AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__BASE_URL=base, AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="perf:viewer,ops:admin",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(passwords),
        AIRFLOW__API_AUTH__JWT_SECRET="recipebench-test-jwt-secret-0123456789",
        AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK="False",
        RECIPEBENCH_WAREHOUSE=f"duckdb://{work / 'warehouse.duckdb'}",
        RECIPEBENCH_ARTIFACTS=f"file://{work / 'artifacts'}",
        RECIPEBENCH_GPU_HOUR_USD=json.dumps({"a4": 10.0, "a3ultra": 9.0}),  # test input, not a price list
    )
    # a few nights of two recipes, as DAG runs in this AIRFLOW_HOME's metadata database
    runs = {"vllm": [_cli(env, "run", RECIPES[0]) for _ in range(3)]}
    # the regression fails check_regressions, so the run (exit 1); its numbers are loaded
    runs["vllm"].append(_cli(env, "run", RECIPES[0], scenario="driver-changed", exit_code=1))
    runs["sglang"] = [_cli(env, "run", RECIPES[1], "--param", 'concurrency=["4", "16", "64"]') for _ in range(2)]
    runs["sglang"].append(_cli(env, "run", RECIPES[1], scenario="crash-loop", exit_code=1))  # a failed night
    assert [r["failed_stage"] for rs in runs.values() for r in rs] == [None] * 3 + ["check_regressions"] + [None] * 2 \
        + ["wait_ready"]
    import duckdb

    with duckdb.connect(str(work / "warehouse.duckdb"), read_only=True) as con:
        alerts = con.execute("SELECT run_id, kind, message FROM alerts").fetchall()
    log = open(work / "standalone.log", "w")
    proc = subprocess.Popen(["airflow", "standalone"], env={**env, "PATH": f"{Path(sys.executable).parent}:"
                                                                           f"{env.get('PATH', '')}"},
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"airflow standalone exited: {(work / 'standalone.log').read_text()[-3000:]}")
            try:
                if _get(f"{base}/recipebench/api/runs/none")[0] in (401, 403):
                    break
            except (urllib.error.URLError, ConnectionError):  # not listening yet
                pass
            time.sleep(2)
        else:
            raise AssertionError(f"api-server not up: {(work / 'standalone.log').read_text()[-3000:]}")
        yield {"base": base, "runs": runs, "env": env, "work": work, "alerts": alerts}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def token(base, user):
    status, _, body = _get(f"{base}/auth/token", {"Content-Type": "application/json"}, "POST",
                           {"username": user, "password": USERS[user]})
    assert status in (200, 201), body
    return json.loads(body)["access_token"]


def test_the_api_answers_a_signed_in_user_and_refuses_anyone_else(airflow):
    base, run = airflow["base"], airflow["runs"]["vllm"][-1]
    url = f"{base}/recipebench/api/runs/{run['run_id']}"
    status, _, body = _get(url)
    assert status == 401, body
    status, headers, _ = _get(f"{base}/recipebench/", {"Accept": "text/html"})
    assert status == 303 and "/auth/login" in headers["location"]  # a browser is sent to Airflow's login
    status, _, _ = _get(url, {"Authorization": "Bearer not-a-token"})
    assert status in (401, 403)
    status, _, body = _get(url, {"Authorization": f"Bearer {token(base, 'perf')}"})
    assert status == 200, body
    data = json.loads(body)
    assert data["run"]["run_id"] == run["run_id"] and data["run"]["status"] == "success"
    assert data["run"]["airflow_run_url"] == f"{base}/dags/{RECIPES[0]}/runs/{quote(run['airflow_run_id'], safe='')}"
    (row,) = data["results"]
    assert row["output_throughput"] > 0 and row["simulated"] is True
    # cost = 8 GPUs x 10 USD/h over the tokens of an hour, per million
    assert row["cost_per_million_output_tokens"] == pytest.approx(8 * 10.0 / (row["output_throughput"] * 3600) * 1e6)
    (verdict,) = data["verdicts"]
    assert verdict["verdict"] == "regressed"  # the night on the new driver
    # its environment, and the alert naming what changed under it
    assert data["run"]["driver_version"] == "580.65.06" and data["run"]["nccl_version"] == "2.26.2"
    assert data["run"]["node_image"] == "Container-Optimized OS from Google"
    assert data["run"]["environment"]["gpu"] == "NVIDIA B200" and data["run"]["environment"]["node_pools"] == ["a4-pool"]
    (message,) = [m for r, kind, m in airflow["alerts"] if r == run["run_id"] and kind == "regression"]
    assert "  driver: 570.133.20 -> 580.65.06" in message, message


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    assert chromium and driver_path, "Debian's chromium and chromium-driver are needed (.ci/run installs them)"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1600"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _page_ok(driver, name):
    """No error page, and a screenshot of what was shown."""
    text = driver.find_element("tag name", "body").text
    assert "Internal Server Error" not in text and "Traceback" not in text, f"{name}: {text[:500]}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
    return text


def _chart(driver, name, min_points=1):
    from selenium.webdriver.common.by import By

    charts = driver.find_elements(By.CSS_SELECTOR, f'svg.chart[data-chart="{name}"]')
    assert charts, f"chart {name} missing on {driver.current_url}"
    assert int(charts[0].get_attribute("data-points")) >= min_points, f"chart {name} has no data"
    return charts[0]


def _login(browser, base, wait):
    """Through Airflow's own login page (once per browser: its session cookie stays)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    browser.get(f"{base}/recipebench/")
    if "/auth/login" not in browser.current_url and browser.find_elements(By.ID, "recipes"):
        return
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "input[name='username']")))
    assert "/auth/login" in browser.current_url
    _page_ok(browser, "0-login")
    browser.find_element(By.CSS_SELECTOR, "input[name='username']").send_keys("perf")
    browser.find_element(By.CSS_SELECTOR, "input[name='password']").send_keys(USERS["perf"])
    browser.find_element(By.CSS_SELECTOR, "button[type='submit']").click()
    wait.until(lambda d: "/auth/login" not in d.current_url)


def test_a_browser_logs_in_and_sees_results_charts_and_a_comparison(airflow, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    base, wait = airflow["base"], WebDriverWait(browser, 60)
    browser.get(f"{base}/recipebench/")
    # not signed in: Airflow's own login page
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "input[name='username']")))
    _login(browser, base, wait)
    # the overview
    browser.get(f"{base}/recipebench/")
    wait.until(ec.presence_of_element_located((By.ID, "recipes")))
    text = _page_ok(browser, "1-overview")
    _chart(browser, "overview-trend", min_points=5)
    # the open regression (about -20%: the sim's latencies have ±2% noise per run), marked simulated
    assert "SIMULATED" in text and re.search(r"output_throughput -(1[5-9]|2[0-5])\.\d%", text), text
    # the recipe page: concurrency, frontier, the trend with its band and the regression ringed
    browser.find_element(By.LINK_TEXT, RECIPES[0]).click()
    wait.until(ec.presence_of_element_located((By.ID, "runs")))
    _page_ok(browser, "2-recipe-vllm")
    _chart(browser, "throughput-concurrency")
    _chart(browser, "frontier", min_points=4)
    # where each night's GPU-hours went: a stacked bar per run, its phases in the legend
    bars = _chart(browser, "gpu-hours", min_points=4)
    assert len(bars.find_elements(By.CSS_SELECTOR, "rect.bar-segment")) >= 4 * 4, "the bars lack their phases"
    assert "measured benchmark" in bars.text and "weights download/load" in bars.text
    assert "580.65.06" in browser.find_element(By.ID, "environment").text  # the newest run's driver
    trend = browser.find_element(By.CSS_SELECTOR, 'svg.chart[data-chart^="trend-"]')
    assert trend.find_elements(By.CSS_SELECTOR, "circle.regression"), "the regressed night is not marked"
    assert trend.find_elements(By.CSS_SELECTOR, "polygon.band"), "no baseline band"
    # the sweep recipe: three concurrency levels on the frontier, cost per million tokens shown
    browser.get(f"{base}/recipebench/recipes/{RECIPES[1]}")
    wait.until(ec.presence_of_element_located((By.ID, "points")))
    text = _page_ok(browser, "3-recipe-sglang-sweep")
    _chart(browser, "frontier", min_points=6)
    assert "Cost at 9.0 USD per GPU-hour" in text
    # a comparison: the regressed night against the night before
    browser.get(f"{base}/recipebench/recipes/{RECIPES[0]}")
    browser.find_element(By.CSS_SELECTOR, "a.compare").click()
    wait.until(ec.presence_of_element_located((By.ID, "diff")))
    text = _page_ok(browser, "4-compare")
    assert re.search(r"output tok/s [\d,.]+ [\d,.]+ -(1[5-9]|2[0-5])\.\d%", text), text
    assert "driver 570.133.20 580.65.06" in browser.find_element(By.ID, "diff").text  # the input that changed
    # the entry in Airflow's own navigation: the page inside the Airflow UI
    browser.get(f"{base}/plugin/recipebench-results")
    wait.until(ec.presence_of_element_located((By.TAG_NAME, "iframe")))
    browser.switch_to.frame(browser.find_element(By.TAG_NAME, "iframe"))
    wait.until(ec.presence_of_element_located((By.ID, "recipes")))
    browser.switch_to.default_content()
    _page_ok(browser, "5-inside-airflow")
    # inside Airflow, the results pages keep their permalinks: the frame's address is mirrored into the
    # address bar (Airflow's plugin page), and reopening that address shows the same view
    browser.switch_to.frame(browser.find_element(By.TAG_NAME, "iframe"))
    browser.find_element(By.LINK_TEXT, RECIPES[0]).click()
    wait.until(ec.presence_of_element_located((By.ID, "runs")))
    browser.find_element(By.LINK_TEXT, "TTFT").click()
    wait.until(lambda d: "metric=ttft" in d.execute_script("return window.location.href"))
    browser.switch_to.default_content()
    wait.until(lambda d: "metric=ttft" in d.current_url)
    permalink = browser.current_url
    assert f"/plugin/recipebench-results/recipebench/recipes/{RECIPES[0]}" in permalink, permalink
    browser.get("about:blank")
    browser.get(permalink)
    wait.until(ec.presence_of_element_located((By.TAG_NAME, "iframe")))
    browser.switch_to.frame(browser.find_element(By.TAG_NAME, "iframe"))
    wait.until(ec.presence_of_element_located((By.ID, "trends")))
    assert "TTFT p50 ms" in browser.find_element(By.CSS_SELECTOR, 'svg.chart[data-chart^="trend-"]').text
    browser.switch_to.default_content()
    _page_ok(browser, "6-permalink-reopened")


def test_a_failed_runs_tab_leads_with_its_reason_and_its_airflow_link_opens_at_the_top(airflow, browser):
    """The Results tab of a failed DAG run: its stage and reason first; its "Airflow run" link leaves the
    frame for the top level (Airflow's sandbox has no allow-top-navigation: static/links.js)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    base, wait = airflow["base"], WebDriverWait(browser, 60)
    _login(browser, base, wait)
    failed = airflow["runs"]["sglang"][-1]
    run_page = f"{base}/dags/{RECIPES[1]}/runs/{quote(failed['airflow_run_id'], safe='')}"
    browser.get(f"{run_page}/plugin/recipebench-run")
    wait.until(ec.presence_of_element_located((By.TAG_NAME, "iframe")))
    frame = browser.find_element(By.TAG_NAME, "iframe")
    assert "allow-top-navigation" not in (frame.get_attribute("sandbox") or ""), frame.get_attribute("sandbox")
    browser.switch_to.frame(frame)
    wait.until(ec.presence_of_element_located((By.ID, "run-status")))
    lead = browser.find_element(By.ID, "run-status").text
    assert lead.startswith(f"Run {failed['run_id']} failed at wait_ready:") and "crash" in lead.lower(), lead
    _page_ok(browser, "7-failed-run-tab")
    row = next(r for r in browser.find_elements(By.CSS_SELECTOR, "#runs tr") if failed["run_id"] in r.text)
    link = row.find_element(By.LINK_TEXT, "Airflow run")
    expected = link.get_attribute("href")
    link.click()
    browser.switch_to.default_content()
    # the top-level address is the run's own page (not the Results tab's), showing Airflow's UI
    wait.until(lambda d: unquote(d.current_url) == unquote(expected))
    wait.until(ec.presence_of_element_located((By.ID, "root")))
    _page_ok(browser, "8-airflow-run-at-top-level")


def test_the_dashboard_filters_downloads_and_puts_recipes_on_one_frontier(airflow, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    base, wait = airflow["base"], WebDriverWait(browser, 60)
    _login(browser, base, wait)
    # a filter chosen in the form lands in the URL, and the table keeps only the recipes it matches
    browser.get(f"{base}/recipebench/")
    wait.until(ec.presence_of_element_located((By.ID, "filters")))
    Select(browser.find_element(By.CSS_SELECTOR, "#filters select[name='accelerator']")).select_by_value("a4")
    browser.find_element(By.CSS_SELECTOR, "#filters button[type='submit']").click()
    wait.until(lambda d: "accelerator=a4" in d.current_url)
    table = browser.find_element(By.ID, "recipes").text
    assert RECIPES[0] in table and RECIPES[1] not in table, table
    _page_ok(browser, "9-filtered")
    filtered = browser.current_url
    browser.get(f"{base}/recipebench/")
    browser.get(filtered)  # the permalink reopened: the same view
    assert Select(browser.find_element(By.CSS_SELECTOR, "#filters select[name='accelerator']")) \
        .first_selected_option.get_attribute("value") == "a4"
    # the CSV of what the page shows, downloaded by the browser
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    browser.find_element(By.LINK_TEXT, "CSV").click()
    wait.until(lambda d: (tmp_path / "recipes.csv").exists())
    lines = (tmp_path / "recipes.csv").read_text().splitlines()
    assert lines[0].startswith("recipe,latest_run,") and len(lines) == 2 and lines[1].startswith(RECIPES[0] + ",")
    # a regressed run says so beside its status in the runs table
    regressed = airflow["runs"]["vllm"][3]["run_id"]
    browser.get(f"{base}/recipebench/recipes/{RECIPES[0]}")
    row = next(r for r in browser.find_elements(By.CSS_SELECTOR, "#runs tr") if regressed in r.text)
    badges = [b.text for b in row.find_elements(By.CSS_SELECTOR, "td:nth-child(3) .badge")]
    assert badges == ["success", "regressed"], row.text
    # both recipes on one frontier, each in its own colour
    browser.get(f"{base}/recipebench/frontier")
    for name in RECIPES:
        browser.find_element(By.CSS_SELECTOR, f"#recipes-chosen input[value='{name}']").click()
    browser.find_element(By.CSS_SELECTOR, "#recipes-chosen button[type='submit']").click()
    wait.until(lambda d: d.current_url.count("recipe=") == 2)
    chart = _chart(browser, "cross-frontier", min_points=4)
    assert chart.get_attribute("data-series") == "2" and all(name in chart.text for name in RECIPES)
    _page_ok(browser, "10-frontier")


def test_a_viewer_reads_no_file_outside_a_runs_artifacts_and_gets_payloads_back_escaped(airflow):
    """Against the real api-server: a signed-in viewer asks for the api-server's own files (an absolute
    name, an encoded one, its environment) and for another recipe's artifacts by traversal: 404 each,
    and nothing of those files in the answers; a script in a query comes back escaped."""
    base, runs = airflow["base"], airflow["runs"]
    bearer = {"Authorization": f"Bearer {token(base, 'perf')}", "Accept": "text/html"}
    vllm, sglang = runs["vllm"][0]["run_id"], runs["sglang"][0]["run_id"]
    own = f"{base}/recipebench/runs/{vllm}/artifacts"
    assert _get(f"{own}/ledger.json", bearer)[0] == 200  # the run's own files are served
    for name in ("//etc/passwd", "%2Fetc%2Fpasswd", "%2Fproc%2Fself%2Fenviron", "..%2F..%2F..%2F..%2Fetc%2Fpasswd",
                 f"..%2F..%2F{RECIPES[1]}%2F{sglang}%2Fledger.json"):
        status, headers, body = _get(f"{own}/{name}", bearer)
        assert status == 404, (name, status, body[:200])
        assert "root:" not in body and "AIRFLOW" not in body and "JWT" not in body
    payload = "<script>alert(document.cookie)</script>"
    status, headers, body = _get(f"{base}/recipebench/compare?a={quote(payload)}&b=x", bearer)
    assert status == 404 and payload not in body and "&lt;script&gt;" in body, body[:300]
    assert "default-src 'none'" in headers["content-security-policy"] and headers["x-content-type-options"] == "nosniff"
