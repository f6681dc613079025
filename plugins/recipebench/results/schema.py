"""The warehouse tables, defined once: both warehouses create them from here.

`runs` (one row per DAG run, failures included), `results` (one row per benchmark point: the
run's identity, then the measured columns of catalog.metrics) and `verdicts` (the regression
check of each point). Keys, partitioning and clustering are declared beside them.
"""

from __future__ import annotations

from recipebench.catalog.metrics import MEASURED, MEASURED_NAMES, Column

RUNS: tuple[Column, ...] = (
    Column("run_id", "STRING", "", "recipebench run key (stable across task retries)", True),
    Column("airflow_run_id", "STRING", "", "Airflow DAG run id"),
    Column("airflow_run_url", "STRING", "", "link to the DAG run in the Airflow UI"),
    Column("recipe", "STRING", "", "recipe id = DAG id", True),
    Column("fingerprint", "STRING", "", "hash of what determines the numbers (recipe.fingerprint)"),
    Column("run_date", "DATE", "", "UTC date the run started; the partitioning column", True),
    Column("started_at", "TIMESTAMP", "", "when the run started", True),
    Column("finished_at", "TIMESTAMP", "", "when the run's last stage before load ended (teardown, as a rule)"),
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
    Column("client_image", "STRING", "", "benchmark client image when it has its own (ref@digest when known)"),
    Column("cluster", "STRING", "", "cluster the run used (GKE name, or kubeconfig context)"),
    Column("simulated", "BOOL", "", "true when run against the simulated cluster: never a real number", True),
    Column("trigger", "STRING", "", "scheduled or manual"),
    Column("params", "JSON", "", "trigger params of the run"),
    Column("inputs", "JSON", "", "the recipe fields the fingerprint hashes (image, serving args, topology, "
           "model, benchmark settings), for comparing two runs field by field"),
    Column("status", "STRING", "", "success, failed, refused (its trigger params were refused: not a failure of "
           "the recipe) or skipped (schedule_policy when-changed: nothing changed since skipped_matches)", True),
    Column("cluster_version", "STRING", "", "a when-changed recipe's cluster: the API server's Kubernetes version "
           "(/version), then its accelerator's node pools' kubelet versions as their nodes report them"),
    Column("skipped_matches", "STRING", "", "a skipped run: the last valid run it is the same as"),
    Column("gpu_hours_saved", "FLOAT64", "GPU h", "a skipped run: the GPU-hours the run it matches took"),
    Column("failed_stage", "STRING", "", "first stage that failed ('artifacts': the run's ledger was lost between stages)"),
    Column("reason", "STRING", "", "one-line reason of the failure"),
    Column("stage_seconds", "JSON", "s", "seconds spent per stage"),
    Column("gpu_hours", "FLOAT64", "GPU h", "GPUs held x hours from the start of deploy to the end of teardown"),
    Column("gpu_hours_split", "JSON", "GPU h", "where gpu_hours went, per phase (results.gpu_time.PHASES): waiting for "
           "nodes, image pull, weights, warm-up, accuracy, measured, idle, teardown; they sum to gpu_hours"),
    Column("gpu_hours_measured", "FLOAT64", "GPU h", "the part of gpu_hours the benchmark measured"),
    Column("environment", "JSON", "", "what the run ran on: its GPU pods' environment block (GPU, driver, CUDA, NCCL, "
           "packages, python), its nodes (kubelet, OS image, kernel, runtime, pool, machine type), the server's "
           "own version, and notes on what differed or could not be read"),
    Column("driver_version", "STRING", "", "NVIDIA driver of the run's GPUs (nvidia-smi); several, comma-joined, "
           "when its nodes differ"),
    Column("cuda_version", "STRING", "", "CUDA runtime the framework was built for (torch.version.cuda)"),
    Column("nccl_version", "STRING", "", "NCCL the framework loads (torch.cuda.nccl.version)"),
    Column("server_version", "STRING", "", "the server's own version report, else its framework package's"),
    Column("node_image", "STRING", "", "OS image of the run's GPU nodes (node status)"),
    Column("leftover_objects", "JSON", "", "objects of the run teardown could not remove (kind/namespace/name)"),
    Column("artifacts", "STRING", "", "address of the run's artifact prefix"),
    Column("accuracy_task", "STRING", "", "the accuracy gate's evaluation (gsm8k); NULL: the recipe has none"),
    Column("accuracy_questions", "INT64", "questions", "questions the server was asked"),
    Column("accuracy_score", "FLOAT64", "ratio", "share answered right (exact match of the final number)"),
    Column("accuracy_threshold", "FLOAT64", "ratio", "the recipe's accuracy.min_score"),
    Column("accuracy_passed", "BOOL", "", "score >= threshold; false: every results row of the run is invalid"),
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
    Column("valid", "BOOL", "", "the point kept every validity rule of its recipe (benchmark.validity): only a "
           "valid point is a baseline or a regression"),
    Column("invalid_reasons", "JSON", "", "each rule broken, with its figures; `unknown: ...` for a rule the "
           "tool gave no figure for (not failed for it)"),
    Column("endpoint", "STRING", "", "server endpoint the client sent to: completions or chat (OpenAI; chat adds "
           "the chat template's tokens) or generate (SGLang's native); empty for an offline benchmark"),
    Column("warmup_requests", "INT64", "requests", "requests sent before the measured ones, never measured "
           "(benchmark.warmup_requests)"),
    Column("trials", "INT64", "trials", "trials of the point run against the same server (benchmark.repeats)"),
    Column("median_trial", "INT64", "", "the trial whose figures this row holds: the median by output throughput"),
    Column("spread_output_throughput", "FLOAT64", "ratio", "(max - min) / median of output throughput across "
           "the trials; NULL with one trial"),
    Column("spread_ttft_median", "FLOAT64", "ratio", "(max - min) / median of median TTFT across the trials"),
    Column("spread_tpot_median", "FLOAT64", "ratio", "(max - min) / median of median TPOT across the trials"),
    Column("slo", "STRING", "", "the SLO the point was judged by, as limits (tpot_p99_ms<=80,ttft_p99_ms<=2000): "
           "the recipe's slo, or the trigger's"),
    Column("slo_met", "BOOL", "", "the point's limited percentiles are within the SLO (from the per-request records "
           "where the tool wrote them, else its summary); NULL: a limited figure is unknown"),
    Column("slo_attainment", "FLOAT64", "ratio", "share of the requests sent that met every limit (per-request "
           "records; a failed request meets none)"),
    Column("goodput_request_throughput", "FLOAT64", "req/s", "requests that met every limit, per second of the "
           "benchmark"),
    Column("goodput_output_throughput", "FLOAT64", "tokens/s", "output tokens of the requests that met every limit, "
           "per second"),
    Column("tool_request_goodput", "FLOAT64", "req/s", "the tool's own goodput where it reports one (vLLM's "
           "--goodput), beside ours"),
    Column("slo_detail", "STRING", "", "each limited percentile against its limit, and where it was read"),
    Column("search_step", "INT64", "", "step of the capacity search that ran this point (NULL: a fixed point)"),
    *MEASURED,
    Column("gpu_hour_usd", "FLOAT64", "USD/GPU h", "price per GPU-hour the cost was computed with"),
    Column("cost_per_million_output_tokens", "FLOAT64", "USD/Mtok",
           "GPUs held x price per GPU-hour / output tokens per hour, per million tokens"),
    Column("artifact", "STRING", "", "address of the raw output this row was parsed from"),
    Column("extra", "JSON", "", "everything else the tool reported, under the tool's own names"),
)

TRIALS: tuple[Column, ...] = (
    Column("run_id", "STRING", "", "run key, joins runs.run_id", True),
    Column("point_id", "STRING", "", "benchmark point id, joins results.point_id", True),
    Column("trial", "INT64", "", "trial number within the point, from 1", True),
    Column("recipe", "STRING", "", "recipe id", True),
    Column("run_date", "DATE", "", "UTC date of the run; partitioning column", True),
    Column("simulated", "BOOL", "", "from the simulated cluster", True),
    Column("is_median", "BOOL", "", "this trial's figures are the point's results row"),
    *MEASURED,
    Column("artifact", "STRING", "", "address of the raw output this trial was parsed from"),
)

CAPACITY: tuple[Column, ...] = (
    Column("run_id", "STRING", "", "run key, joins runs.run_id", True),
    Column("recipe", "STRING", "", "recipe id", True),
    Column("fingerprint", "STRING", "", "recipe fingerprint of the run"),
    Column("run_date", "DATE", "", "UTC date of the run; partitioning column", True),
    Column("simulated", "BOOL", "", "from the simulated cluster", True),
    Column("slo", "STRING", "", "the SLO searched against, as limits (results.slo); capacity compares only "
           "under the same one", True),
    Column("slo_text", "STRING", "", "the SLO in words (TTFT p99 <= 2 s, TPOT p99 <= 80 ms)"),
    Column("load_kind", "STRING", "", "concurrency or request_rate", True),
    Column("input_len", "INT64", "tokens", "input length of every step"),
    Column("output_len", "INT64", "tokens", "output length of every step"),
    Column("capacity_load", "FLOAT64", "requests or req/s", "the highest load that was valid and met the SLO "
           "(NULL: none did)"),
    Column("capacity_point", "STRING", "", "point_id of that step in results"),
    Column("capacity_output_throughput", "FLOAT64", "tokens/s", "output throughput at the capacity"),
    Column("capacity_output_throughput_per_gpu", "FLOAT64", "tokens/s/GPU", "the same per GPU held: the number "
           "teams track"),
    Column("failed_load", "FLOAT64", "requests or req/s", "the lowest load that failed (above the capacity)"),
    Column("failed_reason", "STRING", "", "why it failed: the SLO figure over its limit, or the validity rule"),
    Column("steps", "INT64", "steps", "client Jobs the search ran"),
    Column("converged", "BOOL", "", "the bracket narrowed to the tolerance (or the upper bound passed)"),
    Column("note", "STRING", "", "how the search ended, and any pass not believed (above a failed load)"),
)

VERDICTS: tuple[Column, ...] = (
    Column("run_id", "STRING", "", "run key", True),
    Column("point_id", "STRING", "", "benchmark point id", True),
    Column("recipe", "STRING", "", "recipe id", True),
    Column("run_date", "DATE", "", "UTC date of the run", True),
    Column("verdict", "STRING", "", "ok, regressed, no-baseline or invalid", True),
    Column("baseline_runs", "INT64", "runs", "successful earlier runs the baseline is the median of"),
    Column("details", "JSON", "", "per metric: value, baseline median, relative change, regressed"),
)

ALERTS: tuple[Column, ...] = (
    Column("run_id", "STRING", "", "run that opened or closed the episode", True),
    Column("kind", "STRING", "", "regression, failing, invalid or accuracy, or one of them -recovered", True),
    Column("recipe", "STRING", "", "recipe id", True),
    Column("run_date", "DATE", "", "UTC date of the run", True),
    Column("sent_at", "TIMESTAMP", "", "when the message was sent", True),
    Column("subject", "STRING", "", "one line"),
    Column("message", "STRING", "", "the message as sent"),
    Column("points", "JSON", "", "the points concerned, with value, baseline and change"),
    Column("channels", "JSON", "", "where it went (log, smtp, slack) and any channel that failed"),
)

TABLES = {"runs": RUNS, "results": RESULTS, "trials": TRIALS, "capacity": CAPACITY, "verdicts": VERDICTS,
          "alerts": ALERTS}
KEYS = {"runs": ("run_id",), "results": ("run_id", "point_id"), "trials": ("run_id", "point_id", "trial"),
        "capacity": ("run_id",),
        "verdicts": ("run_id", "point_id"),
        "alerts": ("run_id", "kind")}
PARTITION = "run_date"
CLUSTERING = {"runs": ["accelerator", "framework", "model"], "results": ["accelerator", "framework", "model"],
              "trials": ["recipe"], "capacity": ["recipe"],
              "verdicts": ["recipe"], "alerts": ["recipe"]}

METRIC_COLUMNS = MEASURED_NAMES


def names(table: str) -> list[str]:
    return [c.name for c in TABLES[table]]
