"""A year of nightly history, generated into a DuckDB warehouse through the project's own schema
(results.schema: the tables ensure_tables creates), for the results pages' benchmark and their
correctness test at scale.

`recipes` recipes x `nights` nights x `points` points: each night a run per recipe (one in 20 failed,
one in 50 skipped), each successful run a results row per point with a throughput that drifts and
a verdict per point (one run in 25 regressed on every point), a capacity row per successful run.
Deterministic (hashes of the row's ids, no random state); generated in DuckDB's own SQL, so a year of
100 recipes (36,500 runs, 365,000 results) takes seconds.

    python benchmarks/history.py PATH.duckdb [--recipes 100] [--nights 365] [--points 10]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

END = "2026-12-01"  # the last night generated (a UTC date)


def recipe_id(i: int) -> str:
    return f"hist-{i:03d}"


def generate(path: str, recipes: int = 100, nights: int = 365, points: int = 10, end: str = END) -> dict[str, int]:
    """Fill the warehouse at `path` (created if absent); returns the row count of each table."""
    import duckdb
    from recipebench.results.warehouse import DuckDBWarehouse

    DuckDBWarehouse(path).ensure_tables()
    con = duckdb.connect(path)
    try:
        _fill(con, recipes, nights, points, end)
        return {t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("runs", "results", "verdicts", "capacity")}
    finally:
        con.close()


def _fill(con, recipes: int, nights: int, points: int, end: str) -> None:
    # one row per recipe and night: its day, its kind of night (h: a hash of the ids, 0..999)
    con.execute(f"""
        CREATE TEMP TABLE nights AS
        SELECT r, d, 'hist-' || lpad(CAST(r AS VARCHAR), 3, '0') AS recipe,
               'h' || CAST(r AS VARCHAR) || '-' || CAST(d AS VARCHAR) AS run_id,
               DATE '{end}' - CAST(d AS INTEGER) AS run_date,
               CAST(DATE '{end}' - CAST(d AS INTEGER) AS TIMESTAMPTZ) + INTERVAL 2 HOUR + r * INTERVAL 1 MINUTE
                   AS started_at,
               CAST(hash(r * 100003 + d) % 1000 AS INTEGER) AS h
        FROM range({recipes}) AS a(r), range({nights}) AS b(d)""")
    con.execute("""
        INSERT INTO runs (run_id, recipe, run_date, started_at, finished_at, status, simulated, fingerprint,
                          accelerator, framework, model, precision, gpu_count, machine_type, trigger, params,
                          failed_stage, reason, gpu_hours, gpu_hours_measured, gpu_hours_saved, skipped_matches)
        SELECT run_id, recipe, run_date, started_at, started_at + INTERVAL 90 MINUTE,
               CASE WHEN h < 50 THEN 'failed' WHEN h < 70 THEN 'skipped' ELSE 'success' END, FALSE,
               'fp-' || CAST(r AS VARCHAR), (['a3ultra', 'a4', 'a4x'])[1 + r % 3],
               (['sglang', 'vllm', 'trtllm', 'dynamo'])[1 + r % 4], 'model-' || CAST(r % 7 AS VARCHAR),
               (['fp8', 'bf16', 'nvfp4'])[1 + r % 3], 8, 'machine', 'scheduled', '{}',
               CASE WHEN h < 50 THEN 'wait_ready' END, CASE WHEN h < 50 THEN 'the server crashed' END,
               CASE WHEN h BETWEEN 50 AND 69 THEN NULL ELSE 12.0 END,
               CASE WHEN h < 50 THEN 0.0 WHEN h < 70 THEN NULL ELSE 7.5 END,
               CASE WHEN h BETWEEN 50 AND 69 THEN 12.0 END, NULL
        FROM nights""")
    # a point's throughput: the recipe's level, a slow drift over the year, its concurrency's share,
    # a regressed night (h in 70..109) 20% lower
    con.execute(f"""
        INSERT INTO results (run_id, point_id, recipe, fingerprint, run_date, accelerator, framework, model,
                             simulated, tool, valid, completed, failed, concurrency, output_throughput,
                             output_throughput_per_gpu, tokens_per_s_per_user, ttft_median_ms, tpot_median_ms)
        SELECT n.run_id, 'c' || CAST(p AS VARCHAR), n.recipe, 'fp-' || CAST(n.r AS VARCHAR), n.run_date,
               'a4', 'vllm', 'm', FALSE, 'sim', TRUE, 1000, 0, CAST(power(2, p) AS BIGINT), v * 8, v,
               1000.0 / (10 + p), 100 + 10 * p, 10 + p
        FROM (SELECT *, (800 + 5 * (r % 40)) * (1 + 0.0002 * ({nights} - d)) * (0.5 + 0.05 * p)
                        * (CASE WHEN h BETWEEN 70 AND 109 THEN 0.8 ELSE 1 END) * (1 + (CAST(hash(d * 31 + p) % 21 AS INTEGER) - 10) / 1000.0)
                        AS v
              FROM nights, range({points}) AS c(p) WHERE h >= 70) AS n""")
    con.execute("""
        INSERT INTO verdicts (run_id, point_id, recipe, run_date, verdict, baseline_runs, details)
        SELECT r.run_id, r.point_id, r.recipe, r.run_date,
               CASE WHEN n.h BETWEEN 70 AND 109 THEN 'regressed' ELSE 'ok' END, 5,
               '{"output_throughput": {"value": ' || CAST(r.output_throughput AS VARCHAR) || ', "baseline": '
                   || CAST(r.output_throughput / (CASE WHEN n.h BETWEEN 70 AND 109 THEN 0.8 ELSE 1 END) AS VARCHAR)
                   || ', "change": ' || CASE WHEN n.h BETWEEN 70 AND 109 THEN '-0.2' ELSE '0.0' END
                   || ', "band": 0.05, "regressed": ' || CASE WHEN n.h BETWEEN 70 AND 109 THEN 'true' ELSE 'false' END
                   || '}}'
        FROM results AS r JOIN nights AS n ON n.run_id = r.run_id""")
    con.execute("""
        INSERT INTO capacity (run_id, recipe, fingerprint, run_date, simulated, slo, slo_text, load_kind,
                              capacity_load, capacity_output_throughput, capacity_output_throughput_per_gpu, steps,
                              converged, note)
        SELECT run_id, recipe, 'fp-' || CAST(r AS VARCHAR), run_date, FALSE, 'ttft_p99_ms=2000,tpot_p99_ms=80',
               'TTFT p99 <= 2 s, TPOT p99 <= 80 ms', 'concurrency', 384 + r % 64, 8000.0 + r, 1000.0 + r / 8.0, 5,
               TRUE, 'converged'
        FROM nights WHERE h >= 70""")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path")
    parser.add_argument("--recipes", type=int, default=100)
    parser.add_argument("--nights", type=int, default=365)
    parser.add_argument("--points", type=int, default=10)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))
    print(generate(args.path, args.recipes, args.nights, args.points))
    return 0


if __name__ == "__main__":
    sys.exit(main())
