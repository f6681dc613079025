"""Build one Airflow DAG per recipe file. Cheap to import: DAG files call it at parse time."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, CronTriggerTimetable, Param, XComArg

from recipebench.catalog.accelerators import ACCELERATORS
from recipebench.catalog.params import MAX_LEVELS, form_schema
from recipebench.catalog.recipe import Recipe, load_catalog, recipes_dir
from recipebench.pipeline.notify import RecipeNotifier
from recipebench.pipeline.operators import InvalidRecipeOperator
from recipebench.pipeline.stages import STAGES, Stage, run_minutes, upstream

MAX_CONSECUTIVE_FAILURES = 3

log = logging.getLogger(__name__)


def recipe_doc(recipe: Recipe) -> str:
    acc = recipe.acc
    points = "\n".join(
        f"| `{p.id}` | {p.input_len} | {p.output_len} | {p.concurrency or 'unbounded'} | "
        f"{p.request_rate or 'inf'} | {p.num_prompts} |"
        for p in recipe.benchmark.points
    )
    stages = "\n".join(f"{i}. **{s.name}**: {s.summary}" for i, s in enumerate(STAGES, 1))
    args = " ".join(f"`{k}={v}`" for k, v in recipe.serving.args.items() if not isinstance(v, dict))
    return f"""### {recipe.description}

| | |
| --- | --- |
| accelerator | {acc.machine_type} ({acc.gpu}), {recipe.topology.total_nodes} node(s), {recipe.gpu_count} GPUs |
| framework / shape | {recipe.framework} / {recipe.topology.shape} |
| model | `{recipe.model.name}` ({recipe.model.precision}) |
| image | `{recipe.image.repository}:{recipe.image.tag}` |
| benchmark tool | {recipe.benchmark.tool} |
| cluster | {recipe.cluster.name or '(kubeconfig)'} {recipe.cluster.location or ''}, namespace `{recipe.cluster.namespace}` |
| schedule (UTC) | `{recipe.schedule or 'manual only'}` |
| fingerprint | `{recipe.fingerprint()}` |

Serving args: {args}

| point | input | output | concurrency | rate | prompts |
| --- | --- | --- | --- | --- | --- |
{points}

Stages:
{stages}
"""


def build_recipe_dag(recipe: Recipe) -> DAG:
    schedule = CronTriggerTimetable(recipe.schedule, timezone="UTC") if recipe.schedule else None
    params = {
        key: Param(spec.pop("default"), **spec)
        for key, spec in ((k, dict(v)) for k, v in form_schema(recipe).items())
    }
    gpu = ACCELERATORS[recipe.accelerator].gpu_tag
    model = recipe.model.name.split("/")[-1]
    # findable in the DAG list by GPU and precision as well as machine family, framework and model
    tags = sorted({recipe.accelerator, gpu, recipe.model.precision, recipe.framework, model.lower(), *recipe.tags})
    with DAG(
        dag_id=recipe.id,
        dag_display_name=f"{model} · {recipe.framework} on {gpu.upper()} {recipe.model.precision} ({recipe.id})",
        description=recipe.description,
        schedule=schedule,
        # no start_date: a cron DAG then waits for its next tick after unpausing, instead of
        # launching the latest missed one at once (airflow/timetables/trigger.py,
        # CronTriggerTimetable.next_dagrun_info)
        catchup=False,
        max_active_runs=1,
        tags=tags,
        doc_md=recipe_doc(recipe),
        default_args={"owner": recipe.owner, "retries": 0},
        render_template_as_native_obj=True,
        # a backstop over every stage's own limit, with the most points the trigger form allows
        dagrun_timeout=timedelta(minutes=run_minutes(recipe, len(recipe.benchmark.points) * MAX_LEVELS)),
        # a recipe that fails night after night pauses itself instead of holding GPUs every night
        max_consecutive_failed_dag_runs=MAX_CONSECUTIVE_FAILURES,
        # one message per regression episode or failure streak, decided from the warehouse
        on_success_callback=RecipeNotifier(recipe.id),
        on_failure_callback=RecipeNotifier(recipe.id),
    ) as dag:
        t = {s.name: _task(s, recipe) for s in STAGES if not s.per_point}
        for stage in STAGES:
            if stage.per_point:
                # one task per point, mapped over the points resolve returned (trigger params can change
                # them), labelled with the point's id, one at a time against the same server
                t[stage.name] = _task(stage, recipe).expand(point_id=XComArg(t["resolve"]))
        for stage in STAGES:
            for name in upstream(stage):
                t[name] >> t[stage.name]
        # the teardown frees the GPUs before anything else; one that fails (objects left behind) fails the run
        for stage in STAGES:
            if stage.teardown:
                t[stage.name].as_teardown(setups=[t[s.name] for s in STAGES if s.setup], on_failure_fail_dagrun=True)
    # The form's params are set once the tasks exist: a task created in a DAG deep-copies the DAG's
    # params into its own (BaseOperator defaults, _get_parent_defaults), ten copies a DAG that were
    # half the DAG folder's parse time. A task needs none of its own: at run time Airflow merges the
    # DAG's params, the task's and the run's conf (airflow.sdk.definitions.param.process_params).
    dag.params = params  # type: ignore[assignment]  # Airflow wraps a dict of Params in a ParamsDict itself
    return dag


def _task(stage: Stage, recipe: Recipe):
    """The task of a stage, from its entry in the stage table (a per-point stage: the partial to expand)."""
    kwargs: dict[str, Any] = dict(task_id=stage.name, stage=stage.name, recipe_id=recipe.id, trigger_rule=stage.trigger_rule,
                  retries=stage.retries, retry_delay=stage.retry_delay(),
                  execution_timeout=timedelta(minutes=stage.minutes(recipe)))
    if stage.per_point:
        return stage.operator.partial(**kwargs, max_active_tis_per_dagrun=1, map_index_template="{{ task.point_id }}")
    return stage.operator(**kwargs)


def build_invalid_dag(recipe_id: str, error: str) -> DAG:
    """A broken recipe still shows up, with its error, instead of vanishing from the UI."""
    with DAG(
        dag_id=recipe_id,
        description=f"INVALID RECIPE: {error}"[:200],
        schedule=None,
        catchup=False,
        tags=["invalid-recipe"],
        doc_md=f"### This recipe file does not validate\n\n```\n{error}\n```\n",
    ) as dag:
        InvalidRecipeOperator(task_id="invalid_recipe", error=error)
    return dag


def build_all(directory: Path | None = None, only: str | None = None) -> dict[str, DAG]:
    """Every recipe's DAG; `only` (the DAG a worker is parsing for) skips the rest."""
    good, broken = load_catalog(directory)
    dags: dict[str, DAG] = {}
    for recipe_id, error in broken.items():
        log.error("recipe %s is invalid: %s", recipe_id, error)
        if only in (None, recipe_id):
            dags[recipe_id] = build_invalid_dag(recipe_id, error)
    for recipe_id, recipe in good.items():
        if only in (None, recipe_id):
            try:
                dags[recipe_id] = build_recipe_dag(recipe)
            except Exception as exc:  # one recipe Airflow refuses must not take the others down
                error = f"{(directory or recipes_dir()) / (recipe_id + '.yaml')}: Airflow refuses the DAG: " \
                        f"{type(exc).__name__}: {exc}"
                log.error("recipe %s is invalid: %s", recipe_id, error)
                dags[recipe_id] = build_invalid_dag(recipe_id, error)
    return dags
