"""Everything that talks to a cluster or a cloud API: access, Kubernetes operations, readiness
diagnosis, the workload, secrets, platform installs, images (Cloud Build, Artifact Registry) and
the janitor. Depends on the catalog and the manifests; knows nothing of Airflow tasks."""
