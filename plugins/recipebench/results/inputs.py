"""What differs between two runs' inputs: the first question about any change in the numbers."""

from __future__ import annotations

import json
from typing import Any

from recipebench.catalog.environment import COLUMNS as ENVIRONMENT

# runs columns that can change the numbers, in the order people check them; the environment's by
# their short names ("driver: 570.133.20 -> 580.65.06")
INPUT_FIELDS = ("image", "image_digest", "framework_version", "client_image", "fingerprint", "params", "model",
                "precision", "accelerator", "machine_type", "gpu_count", "cluster", *ENVIRONMENT)


def _text(value: Any) -> str:
    if value is None or value == "":
        return "(none)"
    if isinstance(value, str):
        try:  # JSON columns come back as text from DuckDB, as objects from BigQuery
            value = json.loads(value) if value[:1] in "{[" else value
        except json.JSONDecodeError:
            return value
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else str(value)


def _flat(value: Any, prefix: str) -> dict[str, Any]:
    """{"serving.args.tp-size": 8, ...} from the nested `inputs` of a runs row."""
    if isinstance(value, str) and value[:1] == "{":
        value = json.loads(value)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out |= _flat(item, f"{prefix}.{key}" if prefix else str(key))
        return out
    return {prefix: value}


def input_diff(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(field, before, after) for every input whose value differs between two runs rows: the runs
    columns, then each recipe field under `inputs` (serving args, topology, model, benchmark)."""
    diff = []
    for field in INPUT_FIELDS:
        if field in ENVIRONMENT and (before.get(field) is None or after.get(field) is None):
            continue  # not recorded for one of them (a run before it was, a probe that failed): not a known change
        a, b = _text(before.get(field)), _text(after.get(field))
        if a != b:
            diff.append((ENVIRONMENT.get(field, field), a, b))
    a_fields, b_fields = _flat(before.get("inputs") or {}, ""), _flat(after.get("inputs") or {}, "")
    for key in sorted(a_fields.keys() | b_fields.keys()):
        a, b = _text(a_fields.get(key)), _text(b_fields.get(key))
        if a != b:
            diff.append((key, a, b))
    return diff
