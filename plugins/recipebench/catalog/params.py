"""The trigger form of a recipe DAG, and how its values turn a recipe into one run's config.

`form_schema` is pure data (JSON schema per field, in sections, defaults = the recipe's plan);
the DAG factory wraps it in Airflow Params so a bad value is refused by the form. `apply_params`
is the same check again in the run itself (resolve): a run triggered through the REST API or with
a conf key that is no param is refused there, naming it.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict

from recipebench.catalog.estimate import over_limit, plan_text, prompts_that_fit, tpot_pace
from recipebench.catalog.naming import object_name, run_labels
from recipebench.catalog.recipe import (
    IMAGE_TAG,
    IMAGE_TAG_WORDS,
    MAX_CONCURRENCY,
    MAX_PROMPTS,
    MAX_REPEATS,
    MAX_TOKENS,
    Recipe,
    RecipeError,
    deep_merge,
    resolve,
)

MAX_LEVELS = 16  # concurrency levels one run may sweep
UNBOUNDED = "unbounded"  # a concurrency level: every prompt sent at once

PARAM_KEYS = ("model", "image_tag", "input_len", "output_len", "concurrency", "num_prompts", "warmup_requests",
              "repeats", "slo_ttft_ms", "slo_tpot_ms", "keep_alive", "force")
SLO_PARAMS = {"slo_ttft_ms": "ttft", "slo_tpot_ms": "tpot"}  # the form's SLO limits, at the recipe's percentile
SECTIONS = ("What to run", "Load shape", "After the run")


def _shared(values: list) -> Any:
    """The one value every point of the plan has, or None when they differ."""
    return values[0] if len(set(values)) == 1 else None


def plan(recipe: Recipe) -> dict[str, Any]:
    """The form's defaults: what the recipe runs when nobody changes anything."""
    points = recipe.benchmark.points
    return {
        "model": recipe.model.name,
        "image_tag": recipe.image.tag,
        "input_len": _shared([p.input_len for p in points]),
        "output_len": _shared([p.output_len for p in points]),
        "num_prompts": _shared([p.num_prompts for p in points]),
        "concurrency": sorted({_level(p.concurrency) for p in points}, key=lambda c: (c == UNBOUNDED, c.zfill(6))),
        "warmup_requests": recipe.benchmark.warmup_requests,
        "repeats": recipe.benchmark.repeats,
        **{param: _slo_limit(recipe, metric) for param, metric in SLO_PARAMS.items()},
        "keep_alive": False,
        "force": False,
    }


def _slo_limit(recipe: Recipe, metric: str) -> float | None:
    key = recipe.slo.limit_key(metric)
    return recipe.slo.limits[key] if key else None


def _slo_pct(recipe: Recipe, metric: str) -> str:
    key = recipe.slo.limit_key(metric)
    return key.split("_")[1] if key else "p99"


def _level(concurrency: int | None) -> str:
    return UNBOUNDED if concurrency is None else str(concurrency)


def _described(values: list) -> str:
    return ", ".join(str(v) for v in sorted(set(values)))


def form_schema(recipe: Recipe) -> dict[str, dict[str, Any]]:
    """Per param: its default (the recipe's plan), section, plain-words description and the
    JSON-schema keywords that bound it. Airflow's form shows `section`s as groups and an array of
    strings as a box with one value per line."""
    points, defaults = recipe.benchmark.points, plan(recipe)
    pace, pace_source = tpot_pace(recipe.slo.limits)
    length = {"type": ["null", "integer"], "minimum": 1, "maximum": MAX_TOKENS}
    fields: dict[str, dict[str, Any]] = {}
    if len(recipe.model.choices) > 1:
        fields["model"] = {"type": "string", "enum": recipe.model.choices, "section": SECTIONS[0],
                           "title": "Model checkpoint", "description": "Which checkpoint the server loads."}
    fields |= {
        "image_tag": {"type": "string", "pattern": IMAGE_TAG.pattern, "section": SECTIONS[0],
                      "title": "Image tag", "description": f"The tag of {recipe.image.repository} the server runs: "
                                                           f"{IMAGE_TAG_WORDS}."},
        "input_len": {**length, "section": SECTIONS[1], "title": "Input length (tokens)",
                      "description": f"Prompt length of every request, 1 to {MAX_TOKENS:,}. The recipe's plan: "
                                     f"{_described([p.input_len for p in points])}."},
        "output_len": {**length, "section": SECTIONS[1], "title": "Output length (tokens)",
                       "description": f"Tokens generated per request, 1 to {MAX_TOKENS:,}. The recipe's plan: "
                                      f"{_described([p.output_len for p in points])}."},
        "concurrency": {
            "type": "array", "uniqueItems": True, "minItems": 1, "maxItems": MAX_LEVELS,
            # no item type, so the form shows one level per line; numbers from the API are checked too
            "items": {"pattern": rf"^([1-9][0-9]{{0,4}}|{UNBOUNDED})$", "minimum": 1, "maximum": MAX_CONCURRENCY},
            "section": SECTIONS[1], "title": "Concurrency levels",
            "description": f"Requests in flight at once, one level per line, 1 to {MAX_CONCURRENCY:,} or "
                           f"'{UNBOUNDED}' (every prompt at once); up to {MAX_LEVELS} levels, each a benchmark point. "
                           "The recipe's plan: "
                           f"{', '.join(defaults['concurrency'])}."},
        "num_prompts": {"type": ["null", "integer"], "minimum": 1, "maximum": MAX_PROMPTS, "section": SECTIONS[1],
                        "title": "Prompts per point",
                        "description": f"Requests sent at each point, 1 to {MAX_PROMPTS:,}: in waves of the point's "
                                       f"concurrency, so a low concurrency with many prompts runs long (a point past "
                                       f"its {recipe.timeouts.point_minutes}-minute limit is refused, with the most "
                                       f"prompts that fit). The recipe's plan: "
                                       f"{_described([p.num_prompts for p in points])}, "
                                       f"{plan_text(points, pace, recipe.benchmark.repeats, recipe.gpu_count)} at "
                                       f"{pace_source}."},
        "warmup_requests": {"type": ["null", "integer"], "minimum": 0, "maximum": MAX_PROMPTS, "section": SECTIONS[1],
                            "title": "Warm-up requests per point",
                            "description": f"Sent before each point's measured requests, never measured, 0 to "
                                           f"{MAX_PROMPTS:,}. Empty: twice "
                                           "the concurrency, at least 8. 0 measures a cold server: the point is then "
                                           "invalid."},
        "repeats": {"type": "integer", "enum": list(range(1, MAX_REPEATS + 1, 2)), "section": SECTIONS[1],
                    "title": "Trials per point",
                    "description": f"Each point runs this many times against the same server; its result is the "
                                   f"median trial. Cost: {len(points)} point(s) x trials x {recipe.gpu_count} GPUs "
                                   f"(at the recipe's {recipe.benchmark.repeats}: {len(points) * recipe.benchmark.repeats}"
                                   f" point runs, each up to {recipe.timeouts.point_minutes} min on "
                                   f"{recipe.gpu_count} GPUs)."},
        **{param: {"type": ["null", "number"], "exclusiveMinimum": 0, "maximum": 3_600_000, "section": SECTIONS[1],
                   "title": f"SLO: {metric.upper()} {_slo_pct(recipe, metric)} limit (ms)",
                   "description": f"Above 0 and at most 3,600,000 ms. A request meets the SLO when its "
                                  f"{metric.upper()} is within this; capacity is the "
                                  f"highest load whose {_slo_pct(recipe, metric)} stays within every limit. The "
                                  f"recipe's: {recipe.slo.describe()} ({recipe.slo.source})."}
           for param, metric in SLO_PARAMS.items()},
        "keep_alive": {"type": "boolean", "section": SECTIONS[2], "title": "Keep the server up afterwards",
                       "description": "Leave the server (and its GPUs) running after the benchmark, for a person "
                                      f"to use; the janitor removes it after {recipe.timeouts.keep_alive_hours} h."},
    }
    if recipe.schedule_policy == "when-changed":
        fields["force"] = {"type": "boolean", "section": SECTIONS[2], "title": "Run even if nothing changed",
                           "description": "This recipe skips a run whose image, fingerprint and cluster version are "
                                          "those of its last valid run (schedule_policy when-changed, at least every "
                                          f"{recipe.force_every_days} days); this runs it anyway."}
    return {key: {"default": defaults[key], **spec} for key, spec in fields.items()}


def _levels(value: Any) -> list[int | None]:
    """Concurrency levels from the form (strings, one per line) or the API (numbers); None = unbounded."""
    if not isinstance(value, list) or not value or len(value) > MAX_LEVELS:
        raise RecipeError(f"trigger params: field concurrency: {value!r} is not a list of 1 to {MAX_LEVELS} levels")
    out: list[int | None] = []
    for item in value:
        text = str(item).strip() if not isinstance(item, bool) else ""
        if text == UNBOUNDED:
            out.append(None)
        elif text.isdigit() and 1 <= int(text) <= MAX_CONCURRENCY and isinstance(item, (int, str)):
            out.append(int(text))
        else:
            raise RecipeError(f"trigger params: field concurrency: {item!r} is not a level (an integer in [1, "
                              f"{MAX_CONCURRENCY}] or '{UNBOUNDED}')")
    if len(set(out)) != len(out):
        raise RecipeError(f"trigger params: field concurrency: {value!r} repeats a level")
    return out


def _points(recipe: Recipe, changed: dict[str, Any]) -> list[dict]:
    points = [p.model_dump() for p in recipe.benchmark.points]
    if "concurrency" in changed:
        points = [{**p, "concurrency": c} for p in points for c in _levels(changed["concurrency"])]
    for key in ("input_len", "output_len", "num_prompts"):
        if changed.get(key) is not None:
            points = [{**p, key: changed[key]} for p in points]
    if changed.get("num_prompts") is None and ("concurrency" in changed or changed.get("output_len") is not None):
        # levels (or lengths) the recipe did not plan, prompts not given: each point's prompts scale down to
        # what its concurrency sends within the point limit (catalog.estimate), instead of running past it
        pace, _ = tpot_pace(recipe.slo.limits)
        points = [{**p, "num_prompts": min(p["num_prompts"], prompts_that_fit(
            p["output_len"], p["concurrency"], pace, recipe.timeouts.point_minutes))} if p.get("concurrency")
                  and not p.get("request_rate") else p for p in points]
    unique = {tuple(sorted(p.items())): p for p in points}  # overrides can collapse points
    return list(unique.values())


def changed_params(recipe: Recipe, params: dict[str, Any]) -> dict[str, Any]:
    """The params that differ from the recipe's plan (the form's defaults): only these change it."""
    defaults = plan(recipe)
    out = {}
    for key, value in params.items():
        if key == "concurrency" and value is not None:
            if [_level(c) for c in _levels(value)] != defaults["concurrency"]:
                out[key] = value
        elif value != defaults.get(key) and not (value is None and key in ("input_len", "output_len", "num_prompts")):
            out[key] = value
    return out


def apply_params(recipe: Recipe, params: dict[str, Any]) -> Recipe:
    """The recipe as this run will execute it; errors name the param. A key that is not a param (a
    typo in a run's conf) is refused, not ignored."""
    unknown = sorted(set(params) - set(PARAM_KEYS))
    if unknown:
        import difflib

        near = {k: difflib.get_close_matches(str(k), PARAM_KEYS, n=1) for k in unknown}
        hints = "".join(f" ({k!r}: did you mean {m[0]!r}?)" for k, m in near.items() if m)
        raise RecipeError(f"trigger params: unknown param(s) {', '.join(repr(k)[:80] for k in unknown)}{hints}; "
                          f"known: {', '.join(PARAM_KEYS)}")
    _check_values(recipe, params)
    changed = changed_params(recipe, params)
    overrides: dict[str, Any] = {"benchmark": {"points": _points(recipe, changed),
                                               **{k: changed[k] for k in ("warmup_requests", "repeats") if k in changed}}}
    slo = {f"{metric}_{_slo_pct(recipe, metric)}_ms": float(changed[param])
           for param, metric in SLO_PARAMS.items() if changed.get(param) is not None}
    if slo:
        overrides["slo"] = {**slo, "source": f"trigger params (the recipe's: {recipe.slo.describe()})"}
    if changed.get("model"):
        overrides["model"] = {"name": changed["model"]}
    if changed.get("image_tag"):
        overrides["image"] = {"tag": changed["image_tag"]}
    raw = deep_merge(recipe.model_dump(mode="json", exclude={"id"}), overrides)
    resolved = resolve(recipe.id, raw, "trigger params")
    if changed.get("num_prompts") is not None:  # prompts given: a plan past its limit is refused, not cut short
        _fits(resolved)
    return resolved


def _check_values(recipe: Recipe, params: dict[str, Any]) -> None:
    """Each param within its accepted range, said in words."""
    schema = form_schema(recipe)
    if "model" in params and params["model"] not in recipe.model.choices:
        raise RecipeError(f"trigger params: field model: {params['model']!r} is not one of {recipe.model.choices}")
    for key in ("input_len", "output_len", "num_prompts"):
        value = params.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or not schema[key]["minimum"] <= value <= schema[key]["maximum"]):
            raise RecipeError(f"trigger params: field {key}: {value!r} is not an integer in "
                              f"[{schema[key]['minimum']}, {schema[key]['maximum']}]")
    warmup = params.get("warmup_requests")
    if warmup is not None and (isinstance(warmup, bool) or not isinstance(warmup, int) or not 0 <= warmup <= MAX_PROMPTS):
        raise RecipeError(f"trigger params: field warmup_requests: {warmup!r} is not an integer from 0 to "
                          f"{MAX_PROMPTS} (or empty for the default)")
    repeats = params.get("repeats", recipe.benchmark.repeats)
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats not in range(1, MAX_REPEATS + 1, 2):
        raise RecipeError(f"trigger params: field repeats: {repeats!r} is not an odd number from 1 to {MAX_REPEATS}")
    for key in ("keep_alive", "force"):
        if key in params and not isinstance(params[key], bool):
            raise RecipeError(f"trigger params: field {key}: {params[key]!r} is not true or false")
    for key in SLO_PARAMS:
        value = params.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not 0 < value <= 3_600_000):
            raise RecipeError(f"trigger params: field {key}: {value!r} is not a number of milliseconds above 0 "
                              "and at most 3,600,000 (or empty for the recipe's)")


def _fits(recipe: Recipe) -> None:
    """Refuse a plan with a point whose trial would run past its limit (estimate: catalog.estimate)."""
    pace, source = tpot_pace(recipe.slo.limits)
    late = over_limit(recipe.benchmark.points, pace, recipe.timeouts.point_minutes)
    if late:
        point, est, fit = late[0]
        raise RecipeError(
            f"trigger params: point {point.id}: {point.num_prompts:,} prompts at concurrency {point.concurrency} are "
            f"{est.waves:,} waves of {point.output_len:,} output tokens, about {est.seconds / 3600:.1f} h at {source}, "
            f"past its {recipe.timeouts.point_minutes}-minute limit: send at most {fit:,} prompts at that "
            f"concurrency, or raise it" + (f" ({len(late) - 1} more point(s) too)" if len(late) > 1 else ""))


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
        """The workload's name: as long as its shape's controllers allow (the recipe id is in its labels)."""
        topology = self.recipe.topology
        return object_name(self.recipe.id, self.run_key, budget=topology.kind.name_budget(topology))

    def child_name(self, suffix: str, budget: int = 63) -> str:
        return object_name(self.recipe.id, self.run_key, suffix, budget)

    @property
    def fingerprint(self) -> str:
        return self.recipe.fingerprint()

    def deployed(self, now: float) -> RunConfig:
        """The config as deploy labels the workload: the expiry counted from now, the wait for the
        GPUs being over (the janitor deletes a killed run's objects once it passes)."""
        expires = _expiry(self.recipe, self.keep_alive, now)
        return self.model_copy(update={"expires_at": expires, "labels": run_labels(
            self.recipe.id, self.run_key, self.recipe.owner, expires)})


def _expiry(recipe: Recipe, keep_alive: bool, start: float) -> int:
    """When a run's objects may be deleted by the janitor: every limit from deploy on, plus the
    keep-alive hours."""
    t = recipe.timeouts
    budget_min = t.capacity_minutes + recipe.ready_budget_minutes + recipe.point_budget_minutes * len(recipe.benchmark.points) + 30
    return int(start + budget_min * 60 + (t.keep_alive_hours * 3600 if keep_alive else 0))


def build_run_config(recipe: Recipe, params: dict[str, Any], key: str, airflow_run_id: str,
                     trigger: str, now: float | None = None) -> RunConfig:
    effective = apply_params(recipe, params)  # refuses a key that is not a param
    params = changed_params(recipe, params)  # what the run changed, for the runs row
    started = int(now if now is not None else time.time())
    keep_alive = bool(params.get("keep_alive"))
    # before deploy, the longest wait for the GPUs counts too (deploy counts again from its own time)
    expires = _expiry(effective, keep_alive, started) + effective.timeouts.lock_minutes * 60
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


def rerun_params(point: dict[str, Any], image_tag: str | None, model: str | None = None, repeats: int | None = None,
                 warmup_requests: int | None = None) -> dict[str, Any]:
    """The trigger params that run one point again: its lengths, prompts and concurrency level, the image
    tag and model it ran with, its trials and warm-up. (A request rate is not a form param: a rate point
    runs again from its recipe.)"""
    params: dict[str, Any] = {"input_len": point["input_len"], "output_len": point["output_len"],
                              "num_prompts": point["num_prompts"], "concurrency": [_level(point.get("concurrency"))]}
    if image_tag:
        params["image_tag"] = image_tag
    if model:
        params["model"] = model
    if repeats:
        params["repeats"] = repeats
    if warmup_requests is not None:
        params["warmup_requests"] = warmup_requests
    return params


def rerun_commands(recipe_id: str, params: dict[str, Any]) -> dict[str, str]:
    """The same run three ways: `recipebench run`, and the REST call Airflow 3's own trigger makes (POST
    /api/v2/dags/{dag_id}/dagRuns with conf and a null logical_date, as its UI's triggerDagRun sends)."""
    import json
    import shlex

    def shown(v: Any) -> str:  # `recipebench run` reads a value as JSON when it parses as JSON
        if isinstance(v, str):
            try:
                json.loads(v)
            except ValueError:
                return v
        return json.dumps(v)

    cli = ["recipebench", "run", recipe_id] + [a for k, v in params.items() for a in ("--param", f"{k}={shown(v)}")]
    body = json.dumps({"logical_date": None, "conf": params}, separators=(",", ":"))
    rest = (f"curl -X POST \"$AIRFLOW_URL/api/v2/dags/{recipe_id}/dagRuns\" -H \"Authorization: Bearer $TOKEN\" "
            f"-H 'Content-Type: application/json' -d {shlex.quote(body)}")
    return {"cli": shlex.join(cli), "rest": rest, "conf": json.dumps(params)}
