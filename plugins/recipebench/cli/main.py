"""`recipebench` command line: validate, show and (with later modules) render, parse, run."""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

import yaml

from recipebench.catalog.recipe import RecipeError, load_catalog, load_recipe, recipes_dir


def _dump_yaml(data) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=120)


def cmd_validate(args) -> int:
    good, broken = load_catalog(Path(args.dir) if args.dir else None)
    for recipe_id, recipe in good.items():
        print(f"ok       {recipe_id}  ({recipe.accelerator}, {recipe.framework}, {recipe.topology.shape}, "
              f"{recipe.gpu_count} GPUs, fingerprint {recipe.fingerprint()})")
    for error in broken.values():
        print(f"INVALID  {error}", file=sys.stderr)
    if not good and not broken:
        print(f"no recipe files in {args.dir or recipes_dir()}", file=sys.stderr)
        return 1
    problems = len(broken)
    if not args.recipes_only:
        problems += _validate_manifests(good)
    print(f"{len(good)} valid, {problems} problem(s)")
    return 1 if problems else 0


def _validate_manifests(good) -> int:
    from recipebench.manifests.validation import render_and_validate

    problems = 0
    for recipe_id, recipe in good.items():
        try:
            objects = render_and_validate(recipe)
            print(f"ok       {recipe_id}: {len(objects)} object(s) render and validate")
        except Exception as exc:  # one recipe's broken manifest must not hide the others
            problems += 1
            print(f"INVALID  {recipe_id}: {exc}", file=sys.stderr)
    return problems


def cmd_show(args) -> int:
    recipe = load_recipe(args.recipe)
    data = recipe.model_dump(mode="json")
    data["fingerprint"] = recipe.fingerprint()
    data["gpus"] = recipe.gpu_count
    print(_dump_yaml(data), end="")
    return 0


def cmd_stages(args) -> int:
    """What each DAG will run and where (the main job before a cluster is configured)."""
    from recipebench.pipeline.stages import STAGES

    good, broken = load_catalog()
    for recipe in good.values():
        where = (f"GKE {recipe.cluster.name} ({recipe.cluster.location})" if recipe.cluster.name
                 else "the configured kubeconfig")
        print(f"\nDAG {recipe.id}: {recipe.description}")
        print(f"  schedule {recipe.schedule or 'manual only'} UTC; cluster {where}, namespace {recipe.cluster.namespace}")
        for stage in STAGES:
            kind = " (setup)" if stage.setup else " (teardown)" if stage.teardown else ""
            print(f"  - {stage.name}{kind}: {stage.summary}")
    for error in broken.values():
        print(f"INVALID  {error}", file=sys.stderr)
    return 1 if broken else 0


def _value(text: str):
    """A command-line value: JSON when it parses as JSON (8, true, [1, 8], null), else the plain
    string. Nothing is constructed from the text; the types are checked where the value is used."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _parse_set(items: list[str]) -> dict:
    """`a.b.c=value` pairs -> nested overrides (values as _value reads them)."""
    overrides: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise RecipeError(f"--set {item!r}: expected key=value")
        node = overrides
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = _value(value)
    return overrides


def cmd_render(args) -> int:
    from recipebench.catalog.params import build_run_config
    from recipebench.catalog.recipe import deep_merge, resolve
    from recipebench.manifests.render import render_all, to_yaml_stream
    from recipebench.manifests.validation import validate_objects

    recipe = load_recipe(args.recipe)
    if args.set:
        raw = deep_merge(recipe.model_dump(mode="json", exclude={"id"}), _parse_set(args.set))
        recipe = resolve(recipe.id, raw, f"{args.recipe} with --set")
    run = build_run_config(recipe, {}, args.run_id, f"manual__{args.run_id}", "manual")
    objects = render_all(run)
    validate_objects(objects)
    print(to_yaml_stream(objects), end="")
    return 0


def cmd_parse(args) -> int:
    from recipebench.parsers import ParseError
    from recipebench.parsers.detect import parse_file
    from recipebench.results.schema import names

    try:
        parsed = parse_file(args.file, args.tool)
    except (ParseError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for warning in parsed.warnings:
        print(f"warning: {args.file}: {warning}", file=sys.stderr)
    if args.format == "json":
        print(json.dumps(parsed.records, indent=2, default=str))
    else:
        import csv

        columns = ["tool", "tool_version", *[c for c in names("results") if c in _metric_columns()], "extra"]
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for record in parsed.records:
            writer.writerow({**record, "extra": json.dumps(record.get("extra", {}), default=str)})
    return 0


def _metric_columns():
    from recipebench.results.schema import METRIC_COLUMNS

    return METRIC_COLUMNS


def cmd_results(args) -> int:
    import pandas as pd

    from recipebench.results.warehouse import WarehouseError, open_warehouse

    try:
        wh = open_warehouse()
        wh.ensure_tables()
        runs = wh.recent_runs(args.recipe, args.last)
        rows = wh.recent_results(args.recipe, args.last)
        capacity = wh.select("capacity", {"recipe": args.recipe} if args.recipe else None, order="run_date",
                             limit=args.last, columns=["run_date", "recipe", "run_id", "slo", "load_kind",
                                                       "capacity_load", "capacity_output_throughput_per_gpu",
                                                       "failed_load", "steps", "converged"])
    except WarehouseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.max_colwidth", 60):
        print(f"runs in {wh.label} (latest {args.last}):")
        print(pd.DataFrame(runs).to_string(index=False) if runs else "  none")
        print(f"\nresults (latest {args.last}):")
        frame = pd.DataFrame(rows)
        print(frame.round({c: 2 for c in frame.select_dtypes("number").columns} | {"spread": 4}).to_string(index=False)
              if rows else "  none")
        print(f"\ncapacity at the SLO (latest {args.last}):")
        print(pd.DataFrame(capacity).round(1).to_string(index=False) if capacity else "  none (no recipe searched)")
    return 0


def parse_params(items: list[str]) -> dict:
    """`key=value` trigger params (values as _value reads them; catalog.params.apply_params checks them)."""
    params = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise RecipeError(f"--param {item!r}: expected key=value")
        params[key] = _value(value)
    return params


def failed_outcome(recipe_id: str, exc: BaseException) -> dict:
    """The outcome of a run that could not even report itself (dag.test crashed)."""
    from recipebench.errors import reason

    return {"recipe": recipe_id, "run_id": None, "status": "failed", "failed_stage": None,
            "reason": reason(exc), "result_rows": None,
            "leftover_objects": None, "simulated": None}


def run_and_report(recipe_id: str, params: dict) -> dict:
    """One run's outcome as a JSON line on stdout, whatever happened."""
    from recipebench.cli.runner import run_recipe
    from recipebench.pipeline.bodies import INTERRUPTED

    try:
        result = run_recipe(recipe_id, params)
    except (Exception, KeyboardInterrupt) as exc:
        result = failed_outcome(recipe_id, exc)
        if isinstance(exc, KeyboardInterrupt):
            result["reason"] = INTERRUPTED
    print(json.dumps(result), flush=True)
    return result


def cmd_run(args) -> int:
    from recipebench.catalog.params import apply_params
    from recipebench.cli.runner import environment, scenario, sigterm_interrupts

    params = parse_params(args.param)
    apply_params(load_recipe(args.recipe), params)  # refuse bad params before anything starts
    with sigterm_interrupts(), scenario(args.scenario), environment():
        result = run_and_report(args.recipe, params)
    return {"success": 0, "skipped": 0, "refused": 2}.get(result["status"], 1)  # 2: the input was refused, as for a bad --param


def cmd_load(args) -> int:
    """Load (again) a run's archived results: after the warehouse was down, or into another one."""
    import logging

    from recipebench.catalog.params import RunConfig
    from recipebench.pipeline import artifacts
    from recipebench.pipeline.loading import load_run
    from recipebench.results.warehouse import WarehouseError, open_warehouse

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    data = artifacts.read_json(args.recipe, args.run_id, "run.json")
    if data is None and not artifacts.ledger(args.recipe, args.run_id):
        print(f"error: no artifacts for run {args.run_id} of {args.recipe} under {artifacts.artifacts_root()}",
              file=sys.stderr)
        return 2
    run = RunConfig.model_validate(data) if data else None
    try:
        result = load_run(args.recipe, args.run_id, run, open_warehouse(), logging.getLogger("recipebench"))
    except WarehouseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    print(json.dumps(result))
    return 0


def cmd_build_spec(args) -> int:
    from recipebench.cluster.images import build_request

    request = build_request(load_recipe(args.recipe))
    if request is None:
        print(f"error: recipe {args.recipe} uses a prebuilt image: nothing to build", file=sys.stderr)
        return 2
    print(json.dumps(request, indent=2))
    return 0


def cmd_stage_data(args) -> int:
    """Put an evaluation's data set where runs read it (the artifacts location), once: from its public
    source, from a folder holding its files, or (--generated) the project's own problems of the same
    layout, for a local or simulated setup."""
    from recipebench.accuracy import generated, gsm8k
    from recipebench.pipeline.artifacts import artifacts_root

    if args.generated:
        files = generated.files(questions=args.generated)
        print(f"staging {args.generated} generated problems (recipebench.accuracy.generated), not GSM8K's own text")
    elif args.source:
        folder = Path(args.source)
        files = {name: (folder / name).read_text() for name in gsm8k.SOURCES}
    else:
        try:
            files = gsm8k.fetch_public()
        except OSError as exc:
            print(f"error: cannot fetch {args.task} from {', '.join(gsm8k.SOURCES.values())}: {exc}; download the files "
                  "elsewhere and stage them with --from DIR", file=sys.stderr)
            return 3
    for address in gsm8k.stage(artifacts_root(), files):
        print(f"staged {address}")
    return 0


def cmd_demo(args) -> int:
    """The main job: every recipe end to end against the simulated cluster, then a summary table.
    A recipe that fails does not stop the others; SIGTERM stops the recipe running and the rest. The
    terminal gets a line per recipe and stage; Airflow's logging, the runs' JSON outcomes and the full
    tables go to var/demo.log."""
    import time

    from recipebench.catalog.paths import VAR
    from recipebench.cli import report
    from recipebench.cli.runner import STOP, environment, sigterm_interrupts

    if cmd_validate(argparse.Namespace(dir=None, recipes_only=False)):
        return 1
    good, _ = load_catalog()
    log = VAR / "demo.log"
    outcomes = []
    with report.quiet(log) as terminal:
        say = functools.partial(print, file=terminal, flush=True)
        say(f"recipebench demo: {len(good)} recipes against the simulated cluster; Airflow's logs in {log}")
        with sigterm_interrupts(), environment():
            for n, recipe_id in enumerate(good, 1):
                started = time.monotonic()
                outcomes.append(run_and_report(recipe_id, {}))
                say("\n".join(report.recipe_lines(n, len(good), outcomes[-1], time.monotonic() - started)))
                if STOP.is_set():
                    say("recipebench: interrupted: the remaining recipes were not run")
                    break
            status = cmd_results(argparse.Namespace(recipe=None, last=len(good) * 4))  # into the log
        say("\n" + "\n".join(report.summary(outcomes, _best_figures([o.get("run_id") for o in outcomes]))))
        failed = [o["recipe"] for o in outcomes if o["status"] != "success" or o["leftover_objects"]]
        say(f"\n{len(outcomes) - len(failed)} of {len(good)} recipes ran end to end"
            + (f"; failed or left objects: {', '.join(failed)}" if failed else "")
            + f". Numbers are SIMULATED. The runs and results tables: {log}, or `recipebench results`.")
    return 1 if failed or len(outcomes) < len(good) else status


def cmd_ui(args) -> int:
    from recipebench.cli.ui import serve

    return serve(args.port)


def _best_figures(keys: list[str | None]) -> dict[str, tuple[int, float | None]]:
    """Per run key: its result rows and best output tok/s/GPU in the warehouse (none when it is down)."""
    from recipebench.results.warehouse import WarehouseError, open_warehouse

    try:
        wh = open_warehouse()
        out = {}
        for key in filter(None, keys):
            rows = wh.select("results", {"run_id": key}, columns=["output_throughput_per_gpu"])
            values = [r["output_throughput_per_gpu"] for r in rows if r["output_throughput_per_gpu"] is not None]
            out[key] = (len(rows), max(values, default=None))
        return out
    except WarehouseError:
        return {}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recipebench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("validate", help="validate every recipe (and its manifests); non-zero on any problem")
    p.add_argument("--dir", help="recipes folder (default: $RECIPEBENCH_RECIPES_DIR or include/recipes)")
    p.add_argument("--recipes-only", action="store_true", help="skip rendering the Kubernetes objects")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("show", help="print the fully resolved recipe as YAML")
    p.add_argument("recipe")
    p.set_defaults(func=cmd_show)
    p = sub.add_parser("stages", help="print, for each recipe DAG, the stages it runs and where")
    p.set_defaults(func=cmd_stages)
    p = sub.add_parser("render", help="print a recipe's Kubernetes objects as a YAML stream (validated)")
    p.add_argument("recipe")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe field by its dotted path, e.g. serving.args.tp=4")
    p.add_argument("--run-id", default="rmanual000", help="run key used in names and labels")
    p.set_defaults(func=cmd_render)
    p = sub.add_parser("parse", help="parse a benchmark output into unified records")
    p.add_argument("file")
    p.add_argument("--tool", help="the tool that wrote it (default: detected from the content)")
    p.add_argument("--format", choices=["json", "csv"], default="json")
    p.set_defaults(func=cmd_parse)
    p = sub.add_parser("results", help="recent runs and results from the warehouse")
    p.add_argument("--recipe")
    p.add_argument("--last", type=int, default=20)
    p.set_defaults(func=cmd_results)
    p = sub.add_parser("run", help="run a recipe's DAG once (dag.test) and print the outcome as JSON")
    p.add_argument("recipe")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="a trigger param, e.g. concurrency=[1,8] or keep_alive=true")
    p.add_argument("--scenario", help="what the simulated cluster does in this run (README: the scenarios), e.g. "
                                      "saturates-early; only without RECIPEBENCH_CLUSTER")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("load", help="load a run's archived results into the warehouse (idempotent)")
    p.add_argument("recipe")
    p.add_argument("run_id", help="the run key (r...), as in the runs table and `run` output")
    p.set_defaults(func=cmd_load)
    p = sub.add_parser("build-spec", help="print the Cloud Build request of a recipe's image as JSON")
    p.add_argument("recipe")
    p.set_defaults(func=cmd_build_spec)
    p = sub.add_parser("stage-data", help="stage an evaluation's data set where runs read it (once)")
    p.add_argument("task", choices=["gsm8k"])
    source = p.add_mutually_exclusive_group()
    source.add_argument("--from", dest="source", metavar="DIR", help="a folder holding test.jsonl and train.jsonl")
    source.add_argument("--generated", type=int, metavar="N",
                        help="N generated problems of the same layout instead (local and simulated setups)")
    p.set_defaults(func=cmd_stage_data)
    p = sub.add_parser("demo", help="the main job (see README)")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("ui", help="the simulated cluster and airflow standalone with the results pages (make ui)")
    p.add_argument("--port", type=int, default=8080)
    p.set_defaults(func=cmd_ui)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (RecipeError, ValueError) as exc:  # ManifestError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
