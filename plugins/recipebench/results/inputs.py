"""What differs between two runs' inputs: the first question about any change in the numbers."""

from __future__ import annotations

import json
from typing import Any

# runs columns that can change the numbers, in the order people check them
INPUT_FIELDS = ("image", "image_digest", "framework_version", "client_image", "fingerprint", "params", "model",
                "precision", "accelerator", "machine_type", "gpu_count", "cluster")


def _text(value: Any) -> str:
    if value is None or value == "":
        return "(none)"
    if isinstance(value, str):
        try:  # JSON columns come back as text from DuckDB, as objects from BigQuery
            value = json.loads(value) if value[:1] in "{[" else value
        except json.JSONDecodeError:
            return value
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else str(value)


def input_diff(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(field, before, after) for every input field whose value differs between two runs rows."""
    diff = []
    for field in INPUT_FIELDS:
        a, b = _text(before.get(field)), _text(after.get(field))
        if a != b:
            diff.append((field, a, b))
    return diff
