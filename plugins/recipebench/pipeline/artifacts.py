"""Where a run keeps its raw outputs and its ledger: one prefix per run.

`RECIPEBENCH_ARTIFACTS` is a URL understood by ObjectStoragePath: a local folder by default
(file://), a bucket in production (gs://[conn_id@]bucket/prefix).
"""

from __future__ import annotations

import json
import os
from typing import Any

from recipebench.catalog.paths import VAR
from recipebench.errors import RecipebenchError

DEFAULT_ARTIFACTS = f"file://{VAR / 'artifacts'}"


def artifacts_root() -> str:
    return os.environ.get("RECIPEBENCH_ARTIFACTS") or DEFAULT_ARTIFACTS


def run_prefix(recipe_id: str, run_key: str):
    """The run's folder (reading never creates it)."""
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(artifacts_root()) / recipe_id / run_key


def write_json(recipe_id: str, run_key: str, name: str, data: Any) -> str:
    return write_text(recipe_id, run_key, name, json.dumps(data, indent=2, sort_keys=True, default=str))


def read_json(recipe_id: str, run_key: str, name: str) -> Any | None:
    path = run_prefix(recipe_id, run_key) / name
    if not path.exists():
        return None
    return json.loads(path.read_text())


class ArtifactsLost(RecipebenchError):
    """The run's artifacts location cannot be written or lost what the run wrote; names where."""


def write_text(recipe_id: str, run_key: str, name: str, text: str) -> str:
    """Archive one raw output; returns its address, which the results rows keep."""
    path = run_prefix(recipe_id, run_key).joinpath(*relative_parts(name))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError as exc:
        raise ArtifactsLost(f"cannot write {path} (the run's artifacts location {artifacts_root()}): "
                            f"{type(exc).__name__}: {exc.strerror or exc}") from exc
    return str(path)


def probe() -> None:
    """Write, read back and remove a small file at the root: raises what the store says when the
    location cannot take the run's outputs."""
    from airflow.sdk import ObjectStoragePath

    root = ObjectStoragePath(artifacts_root())
    root.mkdir(parents=True, exist_ok=True)
    path = root / f".recipebench-probe-{os.getpid()}"
    path.write_text("ok")
    if path.read_text() != "ok":
        raise OSError(f"{path} did not read back what was written")
    path.unlink()


# The ledger: what each stage recorded about the run, so the load stage can describe a run
# whose stages failed without asking Airflow's database (tasks have no access to it).
LEDGER = "ledger.json"


def record(recipe_id: str, run_key: str, **entries: Any) -> None:
    """Add entries to the run's ledger: a read-modify-write guarded against a concurrent writer (a
    stage and the DAG's callback, or the plugin's listener, at once). A local folder holds an flock for
    it; an object store is written only when the ledger is still what was read (else read again)."""
    prefix = run_prefix(recipe_id, run_key)
    if getattr(prefix, "protocol", "file") in ("file", "local", ""):
        import fcntl

        try:
            os.makedirs(prefix.path, exist_ok=True)
            lock = open(os.path.join(prefix.path, ".ledger.lock"), "w")
        except OSError as exc:
            raise ArtifactsLost(f"cannot write {prefix} (the run's artifacts location {artifacts_root()}): "
                                f"{type(exc).__name__}: {exc.strerror or exc}") from exc
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            ledger = read_json(recipe_id, run_key, LEDGER) or {}
            write_json(recipe_id, run_key, LEDGER, {**ledger, **entries})
        return
    for _ in range(5):
        path = prefix / LEDGER
        before = path.read_text() if path.exists() else None
        ledger = json.loads(before) if before else {}
        current = path.read_text() if path.exists() else None
        if current == before:
            write_json(recipe_id, run_key, LEDGER, {**ledger, **entries})
            return
    raise ArtifactsLost(f"the ledger {prefix}/{LEDGER} kept changing while it was written")


def ledger(recipe_id: str, run_key: str) -> dict:
    return read_json(recipe_id, run_key, LEDGER) or {}


PARSED = "parsed"  # one JSON per benchmark point: the point, its parsed record and raw artifact address


def save_parsed(recipe_id: str, run_key: str, point_id: str, entry: dict) -> str:
    return write_json(recipe_id, run_key, f"{PARSED}/{point_id}.json", entry)


def parsed_entries(recipe_id: str, run_key: str) -> list[dict]:
    folder = run_prefix(recipe_id, run_key) / PARSED
    if not folder.exists():
        return []
    return [json.loads(p.read_text()) for p in sorted(folder.iterdir(), key=lambda p: p.name)
            if p.name.endswith(".json")]


def point_id(entry: dict) -> str:
    """The id of the point a parsed entry belongs to."""
    from recipebench.catalog.recipe import BenchmarkPoint

    return BenchmarkPoint.model_validate(entry["point"]).id


class NotInside(RecipebenchError, ValueError):
    """A name that would leave the run's prefix (absolute, `..`, a path separator where none may be, a
    symlink that points out)."""


def relative_parts(name: str) -> list[str]:
    """The parts of a relative POSIX name, refused when it could leave the folder it is joined to:
    absolute (`/etc/passwd`, `//x`), `.` or `..` parts, empty parts, backslashes or NUL (pure)."""
    parts = name.split("/")
    if not name or "\\" in name or "\x00" in name or any(p in ("", ".", "..") for p in parts):
        raise NotInside(f"{name!r} is not a relative name inside the run's folder")
    return parts


def inside(prefix, name: str):
    """prefix / name, only when it stays inside prefix: lexically for every store, and for local
    folders also once symlinks are resolved (a link inside the prefix may point anywhere)."""
    path = prefix.joinpath(*relative_parts(name))
    if getattr(prefix, "protocol", "file") in ("file", "local", ""):
        root = os.path.realpath(prefix.path)
        real = os.path.realpath(path.path)
        if os.path.commonpath([root, real]) != root:
            raise NotInside(f"{name!r} resolves outside the run's folder")
    return path
