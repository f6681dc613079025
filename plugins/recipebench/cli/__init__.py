"""The `recipebench` command line (main) and the in-process DAG runner behind `run` and `demo`."""

from recipebench.cli.main import main

__all__ = ["main"]
