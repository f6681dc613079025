"""recipebench: Airflow 3 pipelines that run LLM inference benchmark recipes on GKE GPU clusters.

Modules are cheap to import; heavy dependencies (pandas, Google clients, kubernetes) are
imported inside the functions that use them.
"""
