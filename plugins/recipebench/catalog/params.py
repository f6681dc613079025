"""The trigger form of a recipe DAG, and how its values turn a recipe into one run's config.

`form_schema` is pure data (JSON schema per field); the DAG factory wraps it in Airflow
Params so a bad value is refused by the form. `apply_params` is the same check again for
callers that bypass the form (the CLI, `dag.test`).
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict

from recipebench.catalog.naming import object_name, run_labels
from recipebench.catalog.recipe import Recipe, RecipeError, deep_merge, resolve

MAX_LEN = 131072

PARAM_KEYS = ("model", "image_tag", "input_len", "output_len", "concurrency", "num_prompts", "keep_alive")


def form_schema(recipe: Recipe) -> dict[str, dict[str, Any]]:
    """Per param: default plus the JSON-schema keywords that bound it."""
    length = {"type": ["null", "integer"], "minimum": 1, "maximum": MAX_LEN}
    fields: dict[str, dict[str, Any]] = {}
    if len(recipe.model.choices) > 1:
        fields["model"] = {
            "default": recipe.model.name,
            "type": "string",
            "enum": recipe.model.choices,
            "title": "Model variant",
            "description": "Which checkpoint the server loads.",
        }
    fields |= {
        "image_tag": {
            "default": recipe.image.tag,
            "type": "string",
            "pattern": r"^[\w][\w.-]{0,127}$",
            "title": "Image tag",
            "description": f"Tag of {recipe.image.repository}.",
        },
        "input_len": {"default": None, **length, "title": "Input length (tokens)",
                      "description": "Overrides every point's input length. Empty: the recipe's plan."},
        "output_len": {"default": None, **length, "title": "Output length (tokens)",
                       "description": "Overrides every point's output length. Empty: the recipe's plan."},
        "concurrency": {
            "default": [],
            "type": "array",
            "items": {"type": "integer", "minimum": 1, "maximum": 16384},
            "uniqueItems": True,
            "maxItems": 16,
            "title": "Concurrency levels",
            "description": "One point per level, one per line. Empty: the recipe's plan.",
        },
        "num_prompts": {"default": None, "type": ["null", "integer"], "minimum": 1, "maximum": 100000,
                        "title": "Prompts per point", "description": "Empty: the recipe's plan."},
        "keep_alive": {"default": False, "type": "boolean", "title": "Keep the server up",
                       "description": "Skip teardown; the janitor removes it after "
                                      f"{recipe.timeouts.keep_alive_hours} h."},
    }
    return fields


class RunConfig(BaseModel):
    """Everything one DAG run needs, resolved once by the resolve stage and passed as XCom."""

    model_config = ConfigDict(frozen=True)

    recipe: Recipe
    run_key: str
    airflow_run_id: str
    trigger: str  # scheduled | manual
    params: dict[str, Any]
    keep_alive: bool
    started_at: int  # unix seconds
    expires_at: int
    labels: dict[str, str]

    @property
    def name(self) -> str:
        return object_name(self.recipe.id, self.run_key)

    def child_name(self, suffix: str, budget: int = 63) -> str:
        return object_name(self.recipe.id, self.run_key, suffix, budget)

    @property
    def fingerprint(self) -> str:
        return self.recipe.fingerprint()


def _points(recipe: Recipe, params: dict[str, Any]) -> list[dict]:
    points = [p.model_dump() for p in recipe.benchmark.points]
    if params.get("concurrency"):
        points = [{**p, "concurrency": c} for p in points for c in params["concurrency"]]
    for key in ("input_len", "output_len", "num_prompts"):
        if params.get(key) is not None:
            points = [{**p, key: params[key]} for p in points]
    unique = {tuple(sorted(p.items())): p for p in points}  # overrides can collapse points
    return list(unique.values())


def apply_params(recipe: Recipe, params: dict[str, Any]) -> Recipe:
    """The recipe as this run will execute it; errors name the param."""
    unknown = sorted(set(params) - set(PARAM_KEYS))
    if unknown:
        raise RecipeError(f"trigger params: unknown param(s) {', '.join(unknown)}; known: {', '.join(PARAM_KEYS)}")
    schema = form_schema(recipe)
    if "model" in params and params["model"] not in recipe.model.choices:
        raise RecipeError(f"trigger params: field model: {params['model']!r} is not one of {recipe.model.choices}")
    for key in ("input_len", "output_len", "num_prompts"):
        value = params.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or not schema[key]["minimum"] <= value <= schema[key]["maximum"]):
            raise RecipeError(f"trigger params: field {key}: {value!r} is not an integer in "
                              f"[{schema[key]['minimum']}, {schema[key]['maximum']}]")
    conc = params.get("concurrency") or []
    if not isinstance(conc, list) or any(isinstance(c, bool) or not isinstance(c, int) or not 1 <= c <= 16384 for c in conc):
        raise RecipeError(f"trigger params: field concurrency: {conc!r} is not a list of integers in [1, 16384]")
    overrides: dict[str, Any] = {"benchmark": {"points": _points(recipe, params)}}
    if params.get("model"):
        overrides["model"] = {"name": params["model"]}
    if params.get("image_tag"):
        overrides["image"] = {"tag": params["image_tag"]}
    raw = deep_merge(recipe.model_dump(mode="json", exclude={"id"}), overrides)
    return resolve(recipe.id, raw, "trigger params")


def build_run_config(recipe: Recipe, params: dict[str, Any], key: str, airflow_run_id: str,
                     trigger: str, now: float | None = None) -> RunConfig:
    params = {k: v for k, v in params.items() if k in PARAM_KEYS}
    effective = apply_params(recipe, params)
    started = int(now if now is not None else time.time())
    t = effective.timeouts
    budget_min = t.capacity_minutes + t.ready_minutes + t.point_minutes * len(effective.benchmark.points) + 30
    keep_alive = bool(params.get("keep_alive"))
    expires = started + budget_min * 60 + (t.keep_alive_hours * 3600 if keep_alive else 0)
    return RunConfig(
        recipe=effective,
        run_key=key,
        airflow_run_id=airflow_run_id,
        trigger=trigger,
        params=params,
        keep_alive=keep_alive,
        started_at=started,
        expires_at=expires,
        labels=run_labels(recipe.id, key, recipe.owner, expires),
    )
