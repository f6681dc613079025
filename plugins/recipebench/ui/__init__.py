"""The results pages inside the Airflow UI: a FastAPI app the api-server mounts (see
plugins/recipebench_plugin.py), reading the warehouse through the same interface as load."""
