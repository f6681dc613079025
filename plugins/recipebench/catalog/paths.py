"""Where the project's own files live: the repository root and the folders under include/.

The package sits in plugins/ (on every Airflow component's sys.path); the data it reads sits
beside it in the repository, so every path is derived from this file's location.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
INCLUDE = REPO_ROOT / "include"
RECIPES = INCLUDE / "recipes"
MANIFESTS = INCLUDE / "manifests"
CLOUDBUILD = INCLUDE / "cloudbuild"
RBAC = INCLUDE / "rbac"  # the Roles an operator grants recipebench
SCHEMAS = INCLUDE / "schemas"  # upstream CRDs and specs we validate against (copied, with sources)
VAR = REPO_ROOT / "var"  # local state: Airflow home, artifacts, warehouse (git-ignored)
