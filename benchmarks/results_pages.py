"""How long the results pages take over a year of history, and whether they stay right as it grows.

For each size, a warehouse of generated nights (benchmarks/history.py: 100 recipes x N nights x 10
points) and a catalog of as many recipe files; the results app in-process (FastAPI's TestClient, its
user fixed and allowed every recipe, as tests/test_ui.py does); each page asked once to warm up, then
`--rounds` times: the median milliseconds per page. The overview's best figure and open regressions
are checked for every recipe against a direct query of the same warehouse.

    python benchmarks/results_pages.py [--nights 10 100 365] [--rounds 7] [--plugins PATH] [--json]

--plugins runs the same pages of another checkout (e.g. an older commit in a git worktree): the
before-and-after ratio on the same machine and data.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def _catalog(folder: Path, recipes: int) -> None:
    """As many recipe files as the history has recipes (copies of one recipe, named as the history's)."""
    import history

    text = (REPO / "include" / "recipes" / "vllm-a4-deepseek-r1.yaml").read_text()
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(recipes):
        (folder / f"{history.recipe_id(i)}.yaml").write_text(text)


def _client():
    from fastapi.testclient import TestClient
    from recipebench.ui import app as appmod

    class Viewer:
        def get_name(self):
            return "bench"

    appmod.allowed = lambda user, ids: set(ids)  # the benchmark's reader may read every recipe
    app = appmod.create_app()
    app.dependency_overrides[appmod.current_user] = Viewer
    return TestClient(app)


def _timed(client, url: str, rounds: int) -> float:
    page = client.get(url)
    assert page.status_code == 200, (url, page.status_code, page.text[:500])
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        page = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert page.status_code == 200
    return statistics.median(times)


def expected_overview(path: str, recipes: list[str], since: str) -> dict[str, tuple]:
    """Per recipe, straight from the tables: (best output tok/s/GPU of its latest successful run since
    `since`, its regressed points), one simple query per recipe."""
    import duckdb

    con = duckdb.connect(path, read_only=True)
    out = {}
    try:
        for recipe in recipes:
            last = con.execute("SELECT run_id FROM runs WHERE recipe = ? AND status = 'success' AND run_date >= ? "
                               "ORDER BY started_at DESC LIMIT 1", [recipe, since]).fetchone()
            if last is None:
                out[recipe] = (None, [])
                continue
            (best,) = con.execute("SELECT MAX(output_throughput_per_gpu) FROM results WHERE run_id = ? AND "
                                  "search_step IS NULL", [last[0]]).fetchone()
            points = [p for (p,) in con.execute("SELECT point_id FROM verdicts WHERE run_id = ? AND verdict = "
                                                "'regressed' ORDER BY point_id", [last[0]]).fetchall()]
            out[recipe] = (best, points)
    finally:
        con.close()
    return out


def shown_overview(client, days: int) -> dict[str, tuple]:
    """Per recipe, what the overview shows: its best figure and the points it lists as regressed."""
    import re

    html = client.get(f"/?days={days}").text
    out = {}
    for row in html.split('<tr>')[2:]:
        recipe = re.search(r'/recipes/([^"#]+)"', row)
        if not recipe:
            continue
        cells = re.findall(r'<td class="num">([^<]*)', row)
        best = cells[0].strip() if cells else ""
        points = sorted(set(re.findall(r'class="badge regressed">(\S+) output_throughput', row)))
        out[recipe[1]] = (best, points)
    return out


def measure(nights: int, rounds: int, recipes: int = 100, points: int = 10) -> dict:
    import history

    with tempfile.TemporaryDirectory(prefix="recipebench-pages-") as tmp:
        path = f"{tmp}/warehouse.duckdb"
        today = time.strftime("%Y-%m-%d", time.gmtime())
        counts = history.generate(path, recipes, nights, points, end=today)
        _catalog(Path(tmp) / "recipes", recipes)
        os.environ.update(RECIPEBENCH_WAREHOUSE=f"duckdb://{path}", RECIPEBENCH_RECIPES_DIR=f"{tmp}/recipes")
        client = _client()
        overview = _timed(client, "/", rounds)
        recipe_page = _timed(client, f"/recipes/{history.recipe_id(1)}", rounds)
        year = _timed(client, "/?days=365", rounds)
        from recipebench.results.regressions import number

        since = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 90 * 86400))
        want = {r: (number(best) if best is not None else "-", pts) for r, (best, pts) in
                expected_overview(path, [history.recipe_id(i) for i in range(recipes)], since).items()}
        got = shown_overview(client, 90)
        wrong = sorted(r for r in want if got.get(r) != want[r])
        return {"nights": nights, "runs": counts["runs"], "results": counts["results"], "overview_ms": overview,
                "overview_year_ms": year, "recipe_ms": recipe_page, "rounds": rounds, "wrong_recipes": len(wrong),
                "wrong_example": [(r, want[r], got.get(r)) for r in wrong[:2]]}


def describe(m: dict) -> str:
    return (f"results pages, {m['runs']:,} runs / {m['results']:,} results: overview {m['overview_ms']:.0f} ms "
            f"(a year: {m['overview_year_ms']:.0f} ms), recipe page {m['recipe_ms']:.0f} ms (medians of "
            f"{m['rounds']}); recipes shown wrong: {m['wrong_recipes']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nights", type=int, nargs="+", default=[10, 100, 365])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--plugins", default=str(REPO / "plugins"), help="the plugins folder whose pages are timed")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    sys.path[:0] = [args.plugins, str(HERE)]
    import logging

    logging.disable(logging.WARNING)
    found = [measure(n, args.rounds) for n in args.nights]
    if args.json:
        print(json.dumps(found))
    else:
        for m in found:
            print(describe(m))
    return 0


if __name__ == "__main__":
    sys.exit(main())
