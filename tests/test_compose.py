"""docker-compose.yaml: valid against the Compose Specification's schema, and laid out so that it
runs as is: every Airflow service waits for the init service and has a health check, files belong
to AIRFLOW_UID, no secret has a default, and the image holds the project."""

import json
import re

import pytest
import yaml
from jsonschema import Draft7Validator

from tests.conftest import REPO

COMPOSE = yaml.safe_load((REPO / "docker-compose.yaml").read_text())  # merge keys (<<) resolved
AIRFLOW = {name: s for name, s in COMPOSE["services"].items() if name.startswith("airflow-")}


def test_it_validates_against_the_compose_specification():
    schema = json.loads((REPO / "tests" / "fixtures" / "compose-spec.json").read_text())
    errors = sorted(Draft7Validator(schema).iter_errors(COMPOSE), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_celery_workers_that_scale_out():
    env = AIRFLOW["airflow-worker"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor" and "@redis:6379" in env["AIRFLOW__CELERY__BROKER_URL"]
    assert "redis" in COMPOSE["services"] and "container_name" not in AIRFLOW["airflow-worker"]  # --scale works


@pytest.mark.parametrize("name", sorted(set(AIRFLOW) - {"airflow-init"}))
def test_every_airflow_service_waits_for_init_and_has_a_health_check(name):
    service = AIRFLOW[name]
    assert service["depends_on"]["airflow-init"] == {"condition": "service_completed_successfully"}
    assert {"postgres", "redis"} <= set(service["depends_on"])
    assert service["healthcheck"]["test"], name


def test_the_init_service_migrates_and_owns_the_shared_folder():
    init = AIRFLOW["airflow-init"]
    script = init["command"][-1]
    assert "airflow db migrate" in script and 'chown -R "${AIRFLOW_UID:-50000}:0" /opt/airflow/var' in script
    assert init["restart"] == "no" and "airflow-init" not in init.get("depends_on", {})


def test_health_checks_are_the_components_own():
    assert "8974/health" in " ".join(AIRFLOW["airflow-scheduler"]["healthcheck"]["test"])
    assert "--job-type DagProcessorJob" in AIRFLOW["airflow-dag-processor"]["healthcheck"]["test"][1]
    assert "--job-type TriggererJob" in AIRFLOW["airflow-triggerer"]["healthcheck"]["test"][1]
    assert "inspect ping" in AIRFLOW["airflow-worker"]["healthcheck"]["test"][1]
    assert AIRFLOW["airflow-worker"]["depends_on"]["airflow-apiserver"] == {"condition": "service_healthy"}


def test_files_logs_secrets_and_credentials():
    for service in AIRFLOW.values():
        assert service["user"] == "${AIRFLOW_UID:-50000}:0" or service is AIRFLOW["airflow-init"]
        mounts = {v.split(":")[1] for v in service["volumes"]}
        assert "/opt/airflow/logs" in mounts
    env = AIRFLOW["airflow-scheduler"]["environment"]
    for secret in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY"):
        assert re.fullmatch(r"\$\{\w+:\?[^}]+\}", env[secret]), f"{secret} must come from the environment"
    assert "GOOGLE_APPLICATION_CREDENTIALS" not in env  # unset: application default credentials
    assert {"AIRFLOW_CONN_HUGGINGFACE_DEFAULT", "AIRFLOW_CONN_NGC_DEFAULT"} <= set(env)


def test_the_image_holds_the_project_and_its_cli():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "--constraint /opt/recipebench/constraints.txt" in dockerfile
    assert "COPY --chown=airflow:0 plugins /opt/recipebench/plugins" in dockerfile
    assert "pip install --no-cache-dir --no-deps /opt/recipebench" in dockerfile and "recipebench --help" in dockerfile
    assert "COPY --chown=airflow:0 dags /opt/airflow/dags" in dockerfile
    pins = {line.split("==")[0].lower() for line in (REPO / "docker" / "constraints.txt").read_text().splitlines()
            if "==" in line}
    required = {line.split("==")[0].lower() for line in (REPO / "requirements.txt").read_text().splitlines()
                if "==" in line}
    assert required <= pins, f"constraints.txt lacks {sorted(required - pins)}: run make constraints"


@pytest.mark.subprocess
def test_the_image_gets_the_pages_and_the_plugin_but_not_the_simulator(tmp_path):
    """What `pip install /opt/recipebench` puts in the image: the package with the results pages'
    templates and stylesheet; the simulated cluster (a test double) is left out of the build context."""
    import subprocess
    import sys
    import zipfile

    dockerfile = (REPO / "Dockerfile").read_text()
    assert "plugins/recipebench_plugin.py /opt/airflow/plugins/recipebench_plugin.py" in dockerfile
    assert "plugins/recipebench/sim/" in (REPO / ".dockerignore").read_text().splitlines()
    import shutil

    source = tmp_path / "src"  # a copy: a build writes its own folders next to what it builds
    shutil.copytree(REPO / "plugins", source / "plugins", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(REPO / "pyproject.toml", source / "pyproject.toml")
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                          str(tmp_path), str(source)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    (wheel,) = tmp_path.glob("recipebench-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"recipebench/ui/templates/base.html", "recipebench/ui/templates/chart.html",
            "recipebench/ui/static/style.css"} <= names
