"""Deprecated alias of recipebench.pipeline.triggers, kept for one release (until 0.3).

A wait_ready task deferred by an older release is stored in the triggerer's table under the
classpath `recipebench.triggers.ReadyTrigger`; this alias lets it resume after an upgrade.
New deferrals serialize the new classpath.
"""

from recipebench.pipeline.triggers import ReadyTrigger

__all__ = ["ReadyTrigger"]
