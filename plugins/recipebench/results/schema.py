"""The results schema, defined once: every parser fills it and both warehouses create it from it.

Each column: name, type (BigQuery standard SQL names; DuckDB types derive from them), unit,
meaning. Metric names mean different things across tools (reference/bench-formats.md): each
column has exactly one meaning here, and parsers map each tool's metric onto it or, when the
tool's metric means something else, keep it in `extra` under the tool's own name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # STRING, INT64, FLOAT64, BOOL, TIMESTAMP, JSON
    unit: str
    meaning: str
    required: bool = False


def _latency(metric: str, meaning: str) -> list[Column]:
    stats = {"mean": "mean", "median": "median (p50)", "p90": "90th percentile", "p99": "99th percentile"}
    return [Column(f"{metric}_{s}_ms", "FLOAT64", "ms", f"{label} of {meaning}") for s, label in stats.items()]


RUNS: tuple[Column, ...] = (
    Column("run_id", "STRING", "", "recipebench run key (stable across task retries)", True),
    Column("airflow_run_id", "STRING", "", "Airflow DAG run id"),
    Column("recipe", "STRING", "", "recipe id = DAG id", True),
    Column("fingerprint", "STRING", "", "hash of what determines the numbers (recipe.fingerprint)"),
    Column("run_date", "DATE", "", "UTC date the run started; the partitioning column", True),
    Column("started_at", "TIMESTAMP", "", "when the run started", True),
    Column("finished_at", "TIMESTAMP", "", "when the run was loaded"),
    Column("accelerator", "STRING", "", "accelerator profile (a3ultra, a3mega, a4, a4x)"),
    Column("machine_type", "STRING", "", "GCE machine type of the GPU nodes"),
    Column("node_count", "INT64", "nodes", "GPU nodes the workload holds"),
    Column("gpu_count", "INT64", "GPUs", "GPUs the workload holds"),
    Column("framework", "STRING", "", "serving framework"),
    Column("framework_version", "STRING", "", "image tag of the framework"),
    Column("model", "STRING", "", "Hugging Face model id"),
    Column("precision", "STRING", "", "weights precision"),
    Column("image", "STRING", "", "server image reference"),
    Column("image_digest", "STRING", "", "sha256 digest the run pinned, when known"),
    Column("cluster", "STRING", "", "cluster the run used (GKE name, or kubeconfig context)"),
    Column("simulated", "BOOL", "", "true when run against the simulated cluster: never a real number", True),
    Column("trigger", "STRING", "", "scheduled or manual"),
    Column("params", "JSON", "", "trigger params of the run"),
    Column("status", "STRING", "", "success or failed", True),
    Column("failed_stage", "STRING", "", "first stage that failed"),
    Column("reason", "STRING", "", "one-line reason of the failure"),
    Column("stage_seconds", "JSON", "s", "seconds spent per stage"),
    Column("gpu_hours", "FLOAT64", "GPU h", "GPUs held x hours from deploy to teardown"),
    Column("artifacts", "STRING", "", "address of the run's artifact prefix"),
)

RESULTS: tuple[Column, ...] = (
    Column("run_id", "STRING", "", "run key, joins runs.run_id", True),
    Column("point_id", "STRING", "", "benchmark point id within the recipe", True),
    Column("recipe", "STRING", "", "recipe id", True),
    Column("fingerprint", "STRING", "", "recipe fingerprint of the run"),
    Column("run_date", "DATE", "", "UTC date of the run; partitioning column", True),
    Column("accelerator", "STRING", "", "accelerator profile; clustering column"),
    Column("framework", "STRING", "", "serving framework; clustering column"),
    Column("model", "STRING", "", "model id; clustering column"),
    Column("simulated", "BOOL", "", "from the simulated cluster", True),
    Column("tool", "STRING", "", "benchmark tool that produced the numbers", True),
    Column("tool_version", "STRING", "", "tool version or era, when the output tells"),
    Column("input_len", "INT64", "tokens", "configured input length per request"),
    Column("output_len", "INT64", "tokens", "configured output length per request"),
    Column("concurrency", "INT64", "requests", "configured maximum in-flight requests (NULL: unbounded)"),
    Column("request_rate", "FLOAT64", "req/s", "configured arrival rate (NULL: all at once / inf)"),
    Column("num_prompts", "INT64", "requests", "requests sent"),
    Column("completed", "INT64", "requests", "requests that succeeded"),
    Column("failed", "INT64", "requests", "requests that failed (reported or sent - completed)"),
    Column("duration_s", "FLOAT64", "s", "benchmark wall time"),
    Column("total_input_tokens", "INT64", "tokens", "input tokens of successful requests"),
    Column("total_output_tokens", "INT64", "tokens", "output tokens of successful requests"),
    Column("request_throughput", "FLOAT64", "req/s", "successful requests per second"),
    Column("input_throughput", "FLOAT64", "tokens/s", "input tokens per second"),
    Column("output_throughput", "FLOAT64", "tokens/s", "output tokens per second, whole system"),
    Column("total_throughput", "FLOAT64", "tokens/s", "input + output tokens per second"),
    Column("output_throughput_per_gpu", "FLOAT64", "tokens/s/GPU", "output_throughput / GPUs held (derived)"),
    Column("tokens_per_s_per_user", "FLOAT64", "tokens/s/user", "interactivity: 1000 / median TPOT (derived)"),
    *_latency("ttft", "time to first token, successful requests"),
    *_latency("tpot", "time per output token excluding the first, per request ((e2e - ttft) / (out - 1))"),
    *_latency("itl", "gap between consecutive output chunks, pooled over all requests"),
    *_latency("e2e", "request latency, send to last token"),
    Column("artifact", "STRING", "", "address of the raw output this row was parsed from"),
    Column("extra", "JSON", "", "everything else the tool reported, under the tool's own names"),
)

VERDICTS: tuple[Column, ...] = (
    Column("run_id", "STRING", "", "run key", True),
    Column("point_id", "STRING", "", "benchmark point id", True),
    Column("recipe", "STRING", "", "recipe id", True),
    Column("run_date", "DATE", "", "UTC date of the run", True),
    Column("verdict", "STRING", "", "ok, regressed or no-baseline", True),
    Column("baseline_runs", "INT64", "runs", "successful earlier runs the baseline is the median of"),
    Column("details", "JSON", "", "per metric: value, baseline median, relative change, regressed"),
)

TABLES = {"runs": RUNS, "results": RESULTS, "verdicts": VERDICTS}
KEYS = {"runs": ("run_id",), "results": ("run_id", "point_id"), "verdicts": ("run_id", "point_id")}
PARTITION = "run_date"
CLUSTERING = {"runs": ["accelerator", "framework", "model"], "results": ["accelerator", "framework", "model"],
              "verdicts": ["recipe"]}

METRIC_COLUMNS = tuple(c.name for c in RESULTS if c.name not in {
    "run_id", "point_id", "recipe", "fingerprint", "run_date", "accelerator", "framework", "model", "simulated",
    "tool", "tool_version", "artifact", "extra"})


def names(table: str) -> list[str]:
    return [c.name for c in TABLES[table]]
