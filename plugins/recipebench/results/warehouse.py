"""Where the rows go: DuckDB (a local file, the default) or BigQuery, behind one interface.

Both take the same statements, generated once from the schema:
- tables are created from schema.TABLES (BigQuery: partitioned by day on run_date, clustered);
  a column the schema gained is added in place (ALTER TABLE ADD COLUMN IF NOT EXISTS);
- every write is a MERGE on the table's natural key, so a retried load updates the row it
  wrote before instead of adding a copy. On BigQuery this is a DML query job: idempotent,
  no streaming buffer (so later DML works at once), and it runs on the emulator too.

Chosen by RECIPEBENCH_WAREHOUSE: `duckdb:///path/file.duckdb` or
`bigquery://PROJECT/DATASET[?location=US&conn_id=google_cloud_default]`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from recipebench.catalog.paths import VAR
from recipebench.errors import RecipebenchError, reason
from recipebench.results.schema import CLUSTERING, KEYS, PARTITION, TABLES, Column

DEFAULT_WAREHOUSE = f"duckdb://{VAR / 'warehouse.duckdb'}"
DUCK_TYPES = {"STRING": "VARCHAR", "INT64": "BIGINT", "FLOAT64": "DOUBLE", "BOOL": "BOOLEAN",
              "TIMESTAMP": "TIMESTAMPTZ", "DATE": "DATE", "JSON": "VARCHAR"}


class WarehouseError(RecipebenchError):
    """The warehouse could not be reached or refused a statement; names which warehouse."""


def warehouse_url() -> str:
    return os.environ.get("RECIPEBENCH_WAREHOUSE") or DEFAULT_WAREHOUSE


def _coerce(column: Column, value: Any) -> Any:
    if value is None:
        return None
    if column.type == "JSON":
        return json.dumps(value, sort_keys=True, default=str)
    if column.type == "DATE" and isinstance(value, str):
        return dt.date.fromisoformat(value)
    if column.type == "TIMESTAMP" and isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    if column.type == "INT64":
        number = int(value)
        if not -(2**63) <= number < 2**63:
            raise WarehouseError(f"column {column.name}: {value!r} does not fit INT64")
        return number
    if column.type == "FLOAT64":
        return float(value)
    if column.type == "BOOL":
        return bool(value)
    return value


class Warehouse:
    """Shared logic; subclasses say how to name tables, bind values and run statements."""

    kind = ""

    def __init__(self, label: str):
        self.label = label

    # -- what subclasses provide ---------------------------------------------------------------
    def table(self, name: str) -> str: raise NotImplementedError
    def placeholder(self, column: Column) -> str: raise NotImplementedError
    def _run(self, sql: str, params: dict[str, tuple[Column, Any]] | None = None) -> list[dict]:
        raise NotImplementedError
    def _existing_columns(self, table: str) -> set[str] | None: ...
    def _create(self, table: str, columns: tuple[Column, ...]) -> None: ...
    def column_type(self, column: Column) -> str: raise NotImplementedError
    def json_text(self, expr: str) -> str: raise NotImplementedError
    def week_of(self, expr: str) -> str: raise NotImplementedError

    @contextlib.contextmanager
    def session(self):
        """The statements of one page on one connection, where the warehouse has connections to keep."""
        yield self

    # -- shared ---------------------------------------------------------------------------------
    def run(self, sql: str, params: dict[str, tuple[Column, Any]] | None = None) -> list[dict]:
        # only the parameters the statement names: DuckDB refuses any other (a page's statements share a set)
        params = {k: v for k, v in (params or {}).items() if re.search(rf"[@$]{k}\b", sql)}
        try:
            return self._run(sql, params)
        except WarehouseError:
            raise
        except Exception as exc:  # the client's own exception types differ per warehouse
            raise WarehouseError(f"{self.label}: {reason(exc, 460)}") from exc

    def ensure_tables(self) -> None:
        for name, columns in TABLES.items():
            try:
                existing = self._existing_columns(name)
                if existing is None:
                    self._create(name, columns)
                    continue
            except WarehouseError:
                raise
            except Exception as exc:
                raise WarehouseError(f"{self.label}: cannot create or inspect table {name}: {exc}") from exc
            for column in columns:
                if column.name not in existing:
                    # the schema grew: add the column, keep every row
                    self.run(f"ALTER TABLE {self.table(name)} ADD COLUMN IF NOT EXISTS {column.name} "
                             f"{self.column_type(column)}")

    def probe(self) -> None:
        """The tables exist and can be read: a real read of each, since a file whose catalog is intact
        but whose data is corrupt opens and lists its columns without complaint."""
        self.ensure_tables()
        for name in TABLES:
            self.run(f"SELECT * FROM {self.table(name)} LIMIT 1")

    def upsert(self, table: str, rows: list[dict]) -> int:
        """MERGE each row on the table's key; returns how many rows were written."""
        columns = TABLES[table]
        keys = KEYS[table]
        for row in rows:
            missing = [c.name for c in columns if c.required and row.get(c.name) is None]
            if missing:
                raise WarehouseError(f"{self.label}: {table} row {row.get('run_id')}/{row.get('point_id', '')} "
                                     f"lacks required column(s) {', '.join(missing)}")
            unknown = set(row) - {c.name for c in columns}
            if unknown:
                raise WarehouseError(f"{self.label}: {table} has no column(s) {', '.join(sorted(unknown))}")
            params: dict[str, tuple[Column, Any]] = {}
            selects = []
            for c in columns:
                try:
                    value = _coerce(c, row.get(c.name))
                except (WarehouseError, TypeError, ValueError) as exc:
                    raise WarehouseError(f"{self.label}: {table} row {row.get('run_id')}/{row.get('point_id', '')}: "
                                         f"{exc}") from None
                if value is None:  # typed NULL literal: the emulator cannot bind a null parameter
                    selects.append(f"CAST(NULL AS {self.column_type(c)}) AS {c.name}")
                else:
                    params[c.name] = (c, value)
                    selects.append(f"{self.placeholder(c)} AS {c.name}")
            names = [c.name for c in columns]
            self.run(
                f"MERGE INTO {self.table(table)} AS t USING (SELECT {', '.join(selects)}) AS s "
                f"ON {' AND '.join(f't.{k} = s.{k}' for k in keys)} "
                f"WHEN MATCHED THEN UPDATE SET {', '.join(f'{n} = s.{n}' for n in names if n not in keys)} "
                f"WHEN NOT MATCHED THEN INSERT ({', '.join(names)}) VALUES ({', '.join(f's.{n}' for n in names)})",
                params,
            )
        return len(rows)

    def write_run(self, run_row: dict, results: list[dict], trials: list[dict] | None = None,
                  capacity: dict | None = None) -> None:
        """A run's trials, results, capacity and its runs row, so that a run is never in the table as
        loaded without its results: here the runs row last (a failure in between leaves no runs row, and
        the retried load writes all of it); DuckDB does it in one transaction."""
        self.upsert("trials", trials or [])
        self.upsert("results", results)
        self.upsert("capacity", [capacity] if capacity else [])
        self.upsert("runs", [run_row])

    def recent_results(self, recipe: str | None = None, last: int = 20) -> list[dict]:
        where, params = "", {}
        if recipe:
            where = f"WHERE r.recipe = {self.placeholder(_param('recipe'))}"
            params["recipe"] = (_param("recipe"), recipe)
        return self.run(
            f"SELECT u.started_at, r.recipe, r.run_id, u.status, r.simulated, r.point_id, r.tool, r.completed, "
            f"r.failed, r.output_throughput, r.output_throughput_per_gpu, r.ttft_median_ms, r.tpot_median_ms, "
            f"r.e2e_median_ms, r.cost_per_million_output_tokens AS usd_per_mtok, r.trials, "
            f"r.spread_output_throughput AS spread, r.warmup_requests AS warmup, r.valid, r.invalid_reasons, "
            f"r.slo_met, r.slo_attainment, r.search_step "
            f"FROM {self.table('results')} AS r JOIN {self.table('runs')} AS u "
            f"ON r.run_id = u.run_id {where} ORDER BY u.started_at DESC, r.point_id LIMIT {int(last)}", params)

    def recent_runs(self, recipe: str | None = None, last: int = 20) -> list[dict]:
        where, params = "", {}
        if recipe:
            where = f"WHERE recipe = {self.placeholder(_param('recipe'))}"
            params["recipe"] = (_param("recipe"), recipe)
        return self.run(f"SELECT started_at, recipe, run_id, status, failed_stage, reason, simulated, gpu_hours, "
                        f"accuracy_score AS accuracy "
                        f"FROM {self.table('runs')} {where} ORDER BY started_at DESC LIMIT {int(last)}", params)

    def typed(self, **values: tuple[str, Any]) -> tuple[dict, dict[str, str]]:
        """Query parameters by name, each (BigQuery type, value): (what run() takes, each one's placeholder)."""
        params = {k: (_param(k, t), v) for k, (t, v) in values.items()}
        return params, {k: self.placeholder(c) for k, (c, _) in params.items()}

    def history(self, recipe: str, fingerprint: str, point_id: str, simulated: bool, exclude_run: str,
                before: dt.datetime, limit: int) -> list[dict]:
        """Results of the latest successful earlier runs of the same fingerprint and point. A point
        judged regressed is not a baseline: a lasting drop stays a regression until it recovers,
        instead of becoming the norm after N/2 nights and closing its episode with a false
        "recovered". An invalid point (results.validity) is no baseline either. Runs a person triggered with a changed plan are not a baseline either: only
        scheduled runs, and manual runs of the plan as written."""
        p, ph = self.typed(recipe=("STRING", recipe), fingerprint=("STRING", fingerprint),
                            point_id=("STRING", point_id), simulated=("BOOL", simulated),
                            exclude_run=("STRING", exclude_run), before=("TIMESTAMP", before))
        return self.run(
            f"SELECT r.run_id, u.started_at, r.output_throughput, r.ttft_median_ms, r.tpot_median_ms "
            f"FROM {self.table('results')} AS r JOIN {self.table('runs')} AS u ON r.run_id = u.run_id "
            f"LEFT JOIN {self.table('verdicts')} AS v ON v.run_id = r.run_id AND v.point_id = r.point_id "
            f"WHERE r.recipe = {ph['recipe']} AND r.fingerprint = {ph['fingerprint']} "
            f"AND (v.verdict IS NULL OR v.verdict NOT IN ('regressed', 'invalid')) AND (r.valid IS NULL OR r.valid) "
            f"AND (u.trigger IS NULL OR u.trigger = 'scheduled' OR {self.json_text('u.params')} = '{{}}') "
            f"AND r.point_id = {ph['point_id']} AND r.simulated = {ph['simulated']} AND u.status = 'success' "
            f"AND r.run_id != {ph['exclude_run']} AND u.started_at < {ph['before']} AND r.completed > 0 "
            f"ORDER BY u.started_at DESC LIMIT {int(limit)}", p)

    def last_valid_run(self, recipe: str, simulated: bool) -> dict | None:
        """The recipe's newest successful run on the same kind of cluster whose every point was valid: what a
        when-changed run compares itself with (results.skipping)."""
        p, ph = self.typed(recipe=("STRING", recipe), simulated=("BOOL", simulated))
        rows = self.run(
            f"SELECT u.run_id, u.started_at, u.fingerprint, u.image, u.image_digest, u.cluster_version, u.gpu_hours "
            f"FROM {self.table('runs')} AS u WHERE u.recipe = {ph['recipe']} AND u.simulated = {ph['simulated']} "
            f"AND u.status = 'success' "
            f"AND EXISTS (SELECT 1 FROM {self.table('results')} AS r WHERE r.run_id = u.run_id) "
            f"AND NOT EXISTS (SELECT 1 FROM {self.table('results')} AS r WHERE r.run_id = u.run_id AND r.valid = FALSE) "
            f"ORDER BY u.started_at DESC LIMIT 1", p)
        return rows[0] if rows else None

    def capacity_history(self, recipe: str, fingerprint: str, slo: str, simulated: bool, exclude_run: str,
                         before: dt.datetime, limit: int) -> list[dict]:
        """The capacity of the latest successful earlier runs of the same fingerprint, searched against the
        same SLO, not themselves judged regressed (as history(): a lasting drop stays a regression)."""
        p, ph = self.typed(recipe=("STRING", recipe), fingerprint=("STRING", fingerprint), slo=("STRING", slo),
                            simulated=("BOOL", simulated), exclude_run=("STRING", exclude_run),
                            before=("TIMESTAMP", before))
        return self.run(
            f"SELECT c.run_id, u.started_at, c.capacity_load, c.capacity_output_throughput_per_gpu "
            f"FROM {self.table('capacity')} AS c JOIN {self.table('runs')} AS u ON c.run_id = u.run_id "
            f"LEFT JOIN {self.table('verdicts')} AS v ON v.run_id = c.run_id AND v.point_id = 'capacity' "
            f"WHERE c.recipe = {ph['recipe']} AND c.fingerprint = {ph['fingerprint']} AND c.slo = {ph['slo']} "
            f"AND (v.verdict IS NULL OR v.verdict != 'regressed') AND c.simulated = {ph['simulated']} "
            f"AND (u.trigger IS NULL OR u.trigger = 'scheduled' OR {self.json_text('u.params')} = '{{}}') "
            f"AND u.status = 'success' AND c.run_id != {ph['exclude_run']} AND u.started_at < {ph['before']} "
            f"ORDER BY u.started_at DESC LIMIT {int(limit)}", p)

    def select(self, table: str, where: dict[str, Any] | None = None, order: str | None = None,
               limit: int = 1000, columns: list[str] | None = None) -> list[dict]:
        """Rows of one table matching column = value for each of `where` (typed from the schema),
        JSON columns decoded, newest first when `order` is a column name (descending)."""
        schema = {c.name: c for c in TABLES[table]}
        params, conds = {}, []
        for name, value in (where or {}).items():
            column = schema[name]  # a KeyError here is a programming error, not input
            params[name] = (column, _coerce(column, value))
            conds.append(f"{name} = {self.placeholder(column)}")
        if order is not None and order not in schema:
            raise WarehouseError(f"{self.label}: {table} has no column {order!r} to order by")
        rows = self.run(f"SELECT {', '.join(columns or schema)} FROM {self.table(table)}"
                        f"{' WHERE ' + ' AND '.join(conds) if conds else ''}"
                        f"{f' ORDER BY {order} DESC' if order else ''} LIMIT {int(limit)}", params)
        return decode_json(table, rows)

    def count(self, table: str, run_id: str) -> int:
        c = _param("run_id")
        rows = self.run(f"SELECT COUNT(*) AS n FROM {self.table(table)} WHERE run_id = {self.placeholder(c)}",
                        {"run_id": (c, run_id)})
        return int(rows[0]["n"])


def decode_json(table: str, rows: list[dict]) -> list[dict]:
    """The table's JSON columns of each row decoded (DuckDB returns them as text); other columns as they are."""
    json_columns = {c.name for c in TABLES[table] if c.type == "JSON"}
    for row in rows:
        for name in json_columns & row.keys():
            if isinstance(row[name], str):
                row[name] = json.loads(row[name])
    return rows


def _param(name: str, type_: str = "STRING") -> Column:
    return Column(name, type_, "", "")


class DuckDBWarehouse(Warehouse):
    kind = "duckdb"

    def __init__(self, path: str):
        super().__init__(f"DuckDB {path}")
        self.path = path

    def table(self, name: str) -> str:
        return name

    def column_type(self, column: Column) -> str:
        return DUCK_TYPES[column.type]

    def placeholder(self, column: Column) -> str:
        return f"${column.name}"

    def json_text(self, expr: str) -> str:
        return expr  # JSON columns are VARCHAR here, written with sorted keys

    def week_of(self, expr: str) -> str:
        return f"CAST(date_trunc('week', {expr}) AS DATE)"  # ISO weeks: Monday

    @contextlib.contextmanager
    def session(self):
        """One connection for every statement of a page (instead of one each), released at its end."""
        if self._held is not None:
            yield self
            return
        self._held = self._connect()
        try:
            yield self
        finally:
            self._held.close()
            self._held = None

    def _connect(self):
        """A connection per statement, so the file's lock is held for moments only; another process
        holding it (a concurrent run's load) is waited for, within RECIPEBENCH_WAREHOUSE_LOCK_WAIT
        seconds: DuckDB lets one process write a file at a time."""
        import random
        import time

        import duckdb

        limit = float(os.environ.get("RECIPEBENCH_WAREHOUSE_LOCK_WAIT", "120"))
        deadline = time.monotonic() + limit
        while True:
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                return duckdb.connect(self.path)
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise WarehouseError(f"{self.label}: cannot open: {exc}") from exc
                if time.monotonic() > deadline:
                    raise WarehouseError(f"{self.label}: another process has held its lock for more than "
                                         f"{limit:.0f} s: {exc}") from exc
                time.sleep(random.uniform(0.05, 0.3))  # jitter: waiters do not retry in step
            except Exception as exc:
                raise WarehouseError(f"{self.label}: cannot open: {exc}") from exc

    _held = None  # the connection of a transaction in progress

    def _run(self, sql, params=None):
        con = self._held or self._connect()
        try:
            cur = con.execute(sql, {k: v for k, (_, v) in (params or {}).items()})
            if cur.description is None:
                return []
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        finally:
            if self._held is None:
                con.close()

    def write_run(self, run_row: dict, results: list[dict], trials: list[dict] | None = None,
                  capacity: dict | None = None) -> None:
        """All in one transaction: all of it or none of it."""
        con = self._connect()
        self._held = con
        try:
            con.execute("BEGIN TRANSACTION")
            super().write_run(run_row, results, trials, capacity)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            self._held = None
            con.close()

    def _existing_columns(self, table):
        rows = self.run("SELECT column_name FROM information_schema.columns WHERE table_name = $t",
                        {"t": (_param("t"), table)})
        return {r["column_name"] for r in rows} or None

    def _create(self, table, columns):
        cols = ", ".join(f"{c.name} {DUCK_TYPES[c.type]}" for c in columns)
        self.run(f"CREATE TABLE IF NOT EXISTS {table} ({cols}, PRIMARY KEY ({', '.join(KEYS[table])}))")


class BigQueryWarehouse(Warehouse):
    kind = "bigquery"

    def __init__(self, project: str, dataset: str, location: str = "US",
                 client_factory: Callable[[], Any] | None = None, conn_id: str = "google_cloud_default"):
        super().__init__(f"BigQuery {project}.{dataset}")
        self.project, self.dataset, self.location = project, dataset, location
        self._factory = client_factory or self._hook_client
        self.conn_id = conn_id
        self._client = None

    def _hook_client(self):
        from airflow.providers.google.cloud.hooks.bigquery import BigQueryHook

        return BigQueryHook(gcp_conn_id=self.conn_id, location=self.location).get_client(
            project_id=self.project, location=self.location)

    @property
    def client(self):
        if self._client is None:
            try:
                self._client = self._factory()
            except Exception as exc:
                raise WarehouseError(f"{self.label}: cannot connect: {exc}") from exc
        return self._client

    def table(self, name: str) -> str:
        return f"`{self.project}.{self.dataset}.{name}`"

    def column_type(self, column: Column) -> str:
        return column.type

    def placeholder(self, column: Column) -> str:
        return f"PARSE_JSON(@{column.name})" if column.type == "JSON" else f"@{column.name}"

    def json_text(self, expr: str) -> str:
        return f"TO_JSON_STRING({expr})"

    def week_of(self, expr: str) -> str:
        return f"DATE_TRUNC({expr}, WEEK(MONDAY))"  # = ISOWEEK: weeks that start on Monday

    def _run(self, sql, params=None):
        from google.cloud import bigquery

        qp = [bigquery.ScalarQueryParameter(name, "STRING" if c.type == "JSON" else c.type, value)
              for name, (c, value) in (params or {}).items()]
        job = self.client.query(sql, job_config=bigquery.QueryJobConfig(query_parameters=qp), location=self.location)
        return [dict(row.items()) for row in job.result()]

    def _existing_columns(self, table):
        from google.api_core.exceptions import NotFound

        try:
            return {f.name for f in self.client.get_table(f"{self.project}.{self.dataset}.{table}").schema}
        except NotFound:
            return None

    def _create(self, table, columns):
        from google.cloud import bigquery

        self.client.create_dataset(bigquery.Dataset(f"{self.project}.{self.dataset}"), exists_ok=True)
        t = bigquery.Table(f"{self.project}.{self.dataset}.{table}", schema=[
            bigquery.SchemaField(c.name, c.type, mode="REQUIRED" if c.required else "NULLABLE", description=(
                f"[{c.unit}] " if c.unit else "") + c.meaning) for c in columns])
        t.time_partitioning = bigquery.TimePartitioning(type_=bigquery.TimePartitioningType.DAY, field=PARTITION)
        t.clustering_fields = CLUSTERING[table]
        self.client.create_table(t, exists_ok=True)


def open_warehouse(url: str | None = None) -> Warehouse:
    url = url or warehouse_url()
    parsed = urlparse(url)
    if parsed.scheme == "duckdb":
        path = (parsed.netloc + parsed.path) if parsed.netloc else parsed.path
        return DuckDBWarehouse(path)
    if parsed.scheme == "bigquery":
        dataset = parsed.path.strip("/")
        if not parsed.netloc or not dataset:
            raise WarehouseError(f"RECIPEBENCH_WAREHOUSE={url!r}: expected bigquery://PROJECT/DATASET")
        q = parse_qs(parsed.query)
        return BigQueryWarehouse(parsed.netloc, dataset, q.get("location", ["US"])[0],
                                 conn_id=q.get("conn_id", ["google_cloud_default"])[0])
    raise WarehouseError(f"RECIPEBENCH_WAREHOUSE={url!r}: expected duckdb:///path or bigquery://PROJECT/DATASET")
