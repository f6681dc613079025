"""What rendering and validation report: one error type that names the object and the field."""

from __future__ import annotations

from recipebench.errors import RecipebenchError


class ManifestError(RecipebenchError, ValueError):
    """A template or value that does not make a valid object; names the object and the field."""


def object_id(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind', '?')}/{meta.get('name', '?')}"
