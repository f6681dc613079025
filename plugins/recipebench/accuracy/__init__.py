"""The accuracy gate: a short evaluation against the deployed server before its performance points,
so that a server that answers fast and wrong never makes a number (gsm8k.py: the task, its data and
its scoring; generated.py: questions of the same form that the project writes itself, for tests and
the simulator)."""
