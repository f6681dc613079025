"""The Airflow side: the stage table, the stage bodies, operators, triggers, the DAG factory, the
per-run artifacts and ledger, collection of outputs and loading of results."""
