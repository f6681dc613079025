"""What it takes to run a number again, as plain files beside the run's raw outputs (`repro/`): the
resolved recipe, the rendered manifests, and per point the exact client script its Job ran and the
trigger params, `recipebench run` command and REST call that run that point again.

No secret value is in any of them: the manifests name Secrets (secretKeyRef), they never hold their data,
and a Secret object among them is written with its data redacted.
"""

from __future__ import annotations

import json

import yaml

from recipebench.catalog.params import RunConfig, rerun_commands, rerun_params
from recipebench.catalog.recipe import BenchmarkPoint
from recipebench.pipeline import artifacts

REDACTED = "<redacted>"


def redact(obj: dict) -> dict:
    """A Secret's data and stringData replaced, key by key (the names stay: they say what it held)."""
    if obj.get("kind") != "Secret":
        return obj
    return {**obj, **{field: dict.fromkeys(obj[field], REDACTED) for field in ("data", "stringData") if obj.get(field)}}


def write_run(run: RunConfig) -> None:
    """The resolved recipe and every object the run renders."""
    from recipebench.manifests.render import render_all

    recipe = run.recipe
    artifacts.write_text(recipe.id, run.run_key, "repro/recipe.yaml",
                         yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False))
    artifacts.write_text(recipe.id, run.run_key, "repro/manifests.yaml",
                         yaml.safe_dump_all([redact(o) for o in render_all(run)], sort_keys=False))


def write_point(run: RunConfig, point: BenchmarkPoint, script: str) -> None:
    """One point's client script (as its Job runs it) and how to run the point again."""
    recipe = run.recipe
    params = rerun_params(point.model_dump(), recipe.image.tag, recipe.model.name if len(recipe.model.choices) > 1
                          else None, recipe.benchmark.repeats, recipe.benchmark.warmup_requests)
    artifacts.write_text(recipe.id, run.run_key, f"repro/{point.id}/client.sh", script)
    artifacts.write_text(recipe.id, run.run_key, f"repro/{point.id}/rerun.json",
                         json.dumps({"params": params, **rerun_commands(recipe.id, params),
                                     **({"note": "a request rate is not a trigger param: this point runs again "
                                                 "from its recipe"} if point.request_rate else {})}, indent=2))
