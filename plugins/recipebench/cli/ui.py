"""`recipebench ui` (make ui): the simulated cluster and `airflow standalone` with everything set for a
first look: the project's DAGs and no example DAGs, the results pages, a local login kept in the
Airflow home and printed once, Airflow's own output in a log file. Ctrl-C (or SIGTERM) stops both."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

USER = "admin"
READY_SECONDS = 300  # a first start migrates the metadata database and parses every DAG


def login(home: Path) -> tuple[Path, str]:
    """The simple auth manager's passwords file in `home` and the local user's password (made once,
    then kept: the same login every time)."""
    path = home / "recipebench-ui-passwords.json"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({USER: secrets.token_urlsafe(12)}))
        path.chmod(0o600)
    return path, json.loads(path.read_text())[USER]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except urllib.error.HTTPError as exc:
        return exc.code in (401, 403)  # the api-server is up and asks who is there
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def serve(port: int, say=print) -> int:
    from recipebench.cli.runner import environment

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    with environment():
        home = Path(os.environ["AIRFLOW_HOME"])
        passwords, password = login(home)
        base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__API__HOST": "127.0.0.1",
               "AIRFLOW__API__PORT": str(port), "AIRFLOW__API__BASE_URL": base,
               "AIRFLOW__CORE__AUTH_MANAGER":
                   "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
               "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
               "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
               "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
               # standalone starts its components as `airflow ...` commands: this environment's first
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        log_path = home / "standalone.log"
        with open(log_path, "a") as log:
            proc = subprocess.Popen([sys.executable, "-m", "airflow", "standalone"], env=env, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + READY_SECONDS
            while not _answers(f"{base}/recipebench/api/runs/none"):
                if proc.poll() is not None:
                    say(f"recipebench ui: airflow standalone exited ({proc.returncode}); its log: {log_path}")
                    return 1
                if time.monotonic() > deadline:
                    say(f"recipebench ui: Airflow did not answer at {base} in {READY_SECONDS} s; its log: {log_path}")
                    return 1
                time.sleep(2)
            say(f"Airflow is up at {base}/  sign in as {USER} / {password}\n"
                f"  results: {base}/recipebench/ (\"Benchmark results\" in Airflow's navigation; a DAG's page has a "
                f"Results tab)\n  trigger a recipe from its DAG page: it runs against the simulated cluster\n"
                f"  Airflow's output: {log_path}; Ctrl-C stops Airflow and the simulated cluster", flush=True)
            return proc.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """The whole process tree standalone started (its own session), politely, then for sure."""
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue
