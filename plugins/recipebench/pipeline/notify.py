"""Tell people: a DAG-level notifier (Airflow's BaseNotifier) that runs when a recipe's DAG run
ends, decides from the warehouse whether this run opens or closes an episode
(results.episodes.decide) and sends each message at most once.

Channels: always a log line (logger `recipebench.alerts`); e-mail through the SMTP provider's
SmtpNotifier when RECIPEBENCH_ALERT_EMAIL lists addresses; Slack through the Slack provider's
SlackNotifier when RECIPEBENCH_ALERT_SLACK_CHANNEL names a channel (connection
RECIPEBENCH_ALERT_SLACK_CONN, default slack_api_default). Every message sent is kept in the
warehouse's `alerts` table, keyed by run and kind: a callback that runs twice sends nothing twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable
from typing import Any

from airflow.sdk import BaseNotifier

from recipebench.catalog.vocabulary import RunStatus
from recipebench.errors import reason

log = logging.getLogger("recipebench.alerts")
EARLIER_RUNS = 30  # enough to count a failure streak and find the last successful run


def run_states(warehouse, recipe_id: str, run_id: str) -> tuple[dict, list[dict]]:
    """The run and the recipe's earlier runs (newest first), each with its verdicts."""
    runs = warehouse.select("runs", {"recipe": recipe_id}, order="started_at", limit=200)
    index = next((i for i, r in enumerate(runs) if r["run_id"] == run_id), None)
    if index is None:
        raise LookupError(f"run {run_id} of {recipe_id} has no runs row in {warehouse.label} (load failed?)")
    chosen = runs[index:index + 1 + EARLIER_RUNS]
    wanted = {r["run_id"] for r in chosen}
    verdicts: dict[str, list[dict]] = {r["run_id"]: [] for r in chosen}
    for v in warehouse.select("verdicts", {"recipe": recipe_id}, limit=100000):  # one query, not one per run
        if v["run_id"] in wanted:
            verdicts[v["run_id"]].append(v)
    states = [{"run": r, "verdicts": verdicts[r["run_id"]]} for r in chosen]
    # a run refused for its trigger params tells nobody and neither breaks nor extends a streak
    # nor does a run skipped because nothing changed
    return states[0], [s for s in states[1:] if s["run"]["status"] not in (RunStatus.REFUSED, RunStatus.SKIPPED)]


def baseline_run(warehouse, verdicts: list[dict]) -> dict | None:
    """The runs row of the newest baseline run of the current verdicts."""
    ids = [v["details"].get("baseline_run_ids") or [] for v in verdicts if isinstance(v.get("details"), dict)]
    newest = next((i[0] for i in ids if i), None)
    if newest is None:
        return None
    rows = warehouse.select("runs", {"run_id": newest}, limit=1)
    return rows[0] if rows else None


def channels() -> list[tuple[str, Callable[[str, str], Any]]]:
    """(name, provider notifier factory taking subject and text) for each configured channel."""
    found: list[tuple[str, Callable[[str, str], Any]]] = []
    emails = [a.strip() for a in os.environ.get("RECIPEBENCH_ALERT_EMAIL", "").split(",") if a.strip()]
    if emails:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        found.append(("smtp", lambda subject, text: SmtpNotifier(
            to=emails, subject=subject, html_content=f"<pre>{_html(text)}</pre>",
            smtp_conn_id=os.environ.get("RECIPEBENCH_ALERT_SMTP_CONN") or None)))
    channel = os.environ.get("RECIPEBENCH_ALERT_SLACK_CHANNEL", "").strip()
    if channel:
        from airflow.providers.slack.notifications.slack import SlackNotifier

        found.append(("slack", lambda subject, text: SlackNotifier(
            slack_conn_id=os.environ.get("RECIPEBENCH_ALERT_SLACK_CONN", "slack_api_default"), channel=channel,
            text=slack_text(text), username="recipebench")))
    return found


def slack_text(text: str) -> str:
    """Plain text as Slack shows it, not as commands: Slack reads `<!channel>`, `<@U123>` and links in
    angle brackets, so &, < and > are escaped as its "Formatting text" guide says (only those three)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _html(text: str) -> str:
    import html

    return html.escape(text)


def send(alert, context, warehouse, now: dt.datetime) -> dict:
    """Log it, hand it to each configured channel, keep it in the warehouse. A channel that fails is
    recorded with the alert (and logged); the others still get it."""
    log.warning("ALERT %s", alert.text)
    outcome: dict[str, str] = {"log": "sent"}
    for name, make in channels():
        try:
            # notify(), not __call__: the message is final text, not a template to render
            make(alert.subject, alert.text).notify(context)
            outcome[name] = "sent"
        except Exception as exc:
            outcome[name] = f"failed: {reason(exc, 240)}"
            log.error("alert for %s could not be sent through %s: %s", alert.recipe, name, outcome[name])
    row = {"run_id": alert.run_id, "kind": alert.kind, "recipe": alert.recipe, "run_date": now.date().isoformat(),
           "sent_at": now.timestamp(), "subject": alert.subject, "message": alert.text, "points": alert.points,
           "channels": outcome}
    warehouse.upsert("alerts", [row])
    return row


def notify_run(recipe_id: str, run_id: str, context, warehouse=None, now: dt.datetime | None = None) -> list[dict]:
    """Decide and send the alerts of one finished run; returns the alerts rows written."""
    from recipebench.pipeline.links import airflow_base_url, airflow_run_url, compare_url, results_url
    from recipebench.results.episodes import decide
    from recipebench.results.warehouse import open_warehouse

    warehouse = warehouse or open_warehouse()
    warehouse.ensure_tables()
    current, earlier = run_states(warehouse, recipe_id, run_id)
    base = airflow_base_url()
    baseline = baseline_run(warehouse, current["verdicts"])
    run = current["run"]
    links = {"run": run.get("airflow_run_url") or (airflow_run_url(base, recipe_id, run["airflow_run_id"])
                                                   if run.get("airflow_run_id") else ""),
             "results": results_url(base, recipe_id, run_id),
             "compare": compare_url(base, baseline["run_id"], run_id) if baseline else ""}
    sent = []
    for alert in decide(current, earlier, baseline, links):
        if warehouse.select("alerts", {"run_id": alert.run_id, "kind": alert.kind}, limit=1):
            continue  # this callback ran before for this run: said once is enough
        sent.append(send(alert, context, warehouse, now or dt.datetime.now(dt.UTC)))
    return sent


class RecipeNotifier(BaseNotifier):
    """on_success_callback / on_failure_callback of every recipe DAG."""

    template_fields = ()

    def __init__(self, recipe_id: str):
        super().__init__()
        self.recipe_id = recipe_id

    def render_template_fields(self, context, jinja_env=None) -> None:
        # nothing to render (the messages are built from the warehouse); and under dag.test the
        # callback's context holds a SerializedDAG, which has no get_template_env
        # (airflow/sdk/bases/notifier.py, BaseNotifier.render_template_fields, Airflow 3.3.2)
        return None

    def notify(self, context):
        from recipebench.catalog.naming import run_key
        from recipebench.pipeline.loading import record_ended_run

        # the DAG processor may call back with a minimal context (dag, run_id, reason: processor.py,
        # _execute_dag_callbacks), without a dag_run
        dag_run = context.get("dag_run")
        run_id = context.get("run_id") or dag_run.run_id
        key = run_key(self.recipe_id, run_id)
        try:
            record_ended_run(self.recipe_id, run_id, f"Airflow ended the DAG run ({context.get('reason') or 'no reason'})")
            notify_run(self.recipe_id, key, context)
        except Exception as exc:
            # the warehouse is down or load never wrote the row: say what is known, loudly
            log.error("ALERT [recipebench] %s: run %s ended %s and its alerts could not be decided: %s: %s",
                      self.recipe_id, run_id, getattr(dag_run, "state", "?"), type(exc).__name__, exc)
