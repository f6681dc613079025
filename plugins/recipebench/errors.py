"""One base for every error recipebench raises on purpose, and one way to say an error in a line.

A stage's failure reason, the CLI's refusal, the notifier's channel failure and the warehouse's
error all come from `reason`: the error's type and the first line of its message (safe on an empty
one), for an API error what the server said, with what Airflow's secrets masker knows redacted
before anything is cut short (a cut secret is no longer recognised), at most `limit` characters.
Failures are told apart by class (isinstance), never by class name.
"""

from __future__ import annotations

import json

MAX_REASON = 500  # characters: a reason is one line a person reads, not a copy of the input


class RecipebenchError(Exception):
    """Base of recipebench's own errors: the message is for people and names what is wrong and where."""


def redacted(text: str) -> str:
    """text with every value Airflow's secrets masker knows replaced (credentials and their base64 forms)."""
    try:
        from airflow.sdk.log import redact
    except ImportError:  # no Airflow (a bare client): nothing was masked either
        return text
    return str(redact(text))


def first_line(text: object, limit: int = 300) -> str:
    lines = str(text).strip().splitlines()
    return lines[0][:limit] if lines else ""


def api_message(exc: BaseException) -> str:
    """What an API server said (a Kubernetes Status message, the body of an HTTP error), else the
    error's own words; one line, redacted."""
    status, body = getattr(exc, "status", None), getattr(exc, "body", None)
    if status is not None and body is not None:
        text = redacted(body.decode(errors="replace") if isinstance(body, bytes) else str(body))
        try:
            message = json.loads(text).get("message") or text
        except (ValueError, AttributeError):
            message = text
        return f"HTTP {status} {getattr(exc, 'reason', '') or ''}: {' '.join(str(message).split())[:300]}".replace(
            " :", ":")
    return f"{type(exc).__name__}: {first_line(redacted(str(exc)))}".rstrip(": ").rstrip()


def reason(exc: BaseException, limit: int = MAX_REASON) -> str:
    """One line for a person: `Type: first line` (`Type: HTTP 403 Forbidden: ...` for an API error),
    redacted, at most `limit` characters."""
    if getattr(exc, "status", None) is not None and getattr(exc, "body", None) is not None:
        text = f"{type(exc).__name__}: {api_message(exc)}"
    else:
        text = api_message(exc)
    return text if len(text) <= limit else text[:limit - 20] + f" ... ({len(text)} chars)"
