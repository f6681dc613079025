"""The create_secrets stage: Airflow connections -> Kubernetes Secrets, values never shown.

The Hugging Face token is the password of connection `huggingface_default`; the NGC key (for
images and charts on nvcr.io) the password of `ngc_default`. Values are masked in the task log
before anything else happens and are never returned, printed or rendered into a manifest.
"""

from __future__ import annotations

import base64
import json

from recipebench.errors import RecipebenchError

HF_CONN = "huggingface_default"
NGC_CONN = "ngc_default"


class SecretsError(RecipebenchError):
    """A credential the recipe needs is not configured; names the connection."""


def connection_password(conn_id: str, what: str) -> str:
    from airflow.sdk import BaseHook
    from airflow.sdk.log import mask_secret

    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception as exc:  # AirflowNotFoundException and friends
        raise SecretsError(f"Airflow connection {conn_id!r} is missing: create it with the {what} as its "
                           f"password ({type(exc).__name__})") from None
    if not conn.password:
        raise SecretsError(f"Airflow connection {conn_id!r} has no password: put the {what} there")
    mask_secret(conn.password)
    return conn.password


def secret_objects(run, names: dict[str, str | None], hf_token: str | None, ngc_key: str | None) -> list[dict]:
    """The Secret objects (pure). Only create_secrets builds these; they are never printed."""
    meta = lambda name: {"name": name, "namespace": run.recipe.cluster.namespace, "labels": run.labels}  # noqa: E731
    objects = []
    if names["hf"]:
        objects.append({"apiVersion": "v1", "kind": "Secret", "metadata": meta(names["hf"]), "type": "Opaque",
                        "data": {"HF_TOKEN": base64.b64encode((hf_token or "").encode()).decode()}})
    if names["ngc"]:
        auth = base64.b64encode(f"$oauthtoken:{ngc_key}".encode()).decode()
        config = {"auths": {"nvcr.io": {"username": "$oauthtoken", "password": ngc_key, "auth": auth}}}
        objects.append({"apiVersion": "v1", "kind": "Secret", "metadata": meta(names["ngc"]),
                        "type": "kubernetes.io/dockerconfigjson",
                        "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()}})
    return objects


def mask_encoded(objects: list[dict]) -> None:
    """Mask the base64 forms too: an API error that echoes a Secret (a 422 quoting the object, say)
    carries its data encoded, which the masker of the plain value does not catch."""
    from airflow.sdk.log import mask_secret

    for obj in objects:
        for value in (obj.get("data") or {}).values():
            mask_secret(value)


def create_secrets(run, cluster, log) -> list[str]:
    from recipebench.manifests.render import secret_names

    names = secret_names(run)
    hf = connection_password(HF_CONN, "Hugging Face token") if names["hf"] else None
    ngc = connection_password(NGC_CONN, "NGC API key") if names["ngc"] else None
    cluster.ensure_namespace(run.recipe.cluster.namespace)
    objects = secret_objects(run, names, hf, ngc)
    mask_encoded(objects)
    try:
        cluster.apply(objects)
    except Exception:
        # all or nothing: the DAG's teardown does not run when its first setup failed (Airflow runs
        # a teardown only once one of its setups succeeded), so a half-made set would stay behind
        for obj in objects:
            try:
                cluster.delete(obj)
            except Exception as exc:
                log.error("could not remove secret %s after the failure: %s", obj["metadata"]["name"], exc)
        raise
    created = [n for n in names.values() if n]
    log.info("created secret(s) %s in %s from connection(s) %s", ", ".join(created), cluster.target.label,
             ", ".join(c for c, n in ((HF_CONN, names["hf"]), (NGC_CONN, names["ngc"])) if n))
    return created
