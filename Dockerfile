# recipebench's Airflow image: the official Airflow 3.3.2 image, the project's pinned dependencies
# installed under the versions its test suite ran with (docker/constraints.txt), and the project
# itself: the package (so `recipebench` works in every container and the triggerer imports the
# triggers), the DAG files, the plugin file and the recipes. The simulated cluster (a test double) is
# left out (.dockerignore): a deployment names its cluster in RECIPEBENCH_CLUSTER.
#   docker compose build        (or: docker build -t recipebench-airflow:3.3.2 .)
ARG AIRFLOW_VERSION=3.3.2
FROM apache/airflow:${AIRFLOW_VERSION}-python3.11
ARG AIRFLOW_VERSION
COPY --chown=airflow:0 requirements.txt pyproject.toml docker/constraints.txt /opt/recipebench/
COPY --chown=airflow:0 plugins /opt/recipebench/plugins
# apache-airflow is named so that pip keeps the image's Airflow and never swaps it for another
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /opt/recipebench/requirements.txt \
        --constraint /opt/recipebench/constraints.txt \
 && pip install --no-cache-dir --no-deps /opt/recipebench \
 && recipebench --help > /dev/null
COPY --chown=airflow:0 dags /opt/airflow/dags
# the plugin that mounts the results pages and the listener (the package itself is installed above)
COPY --chown=airflow:0 plugins/recipebench_plugin.py /opt/airflow/plugins/recipebench_plugin.py
COPY --chown=airflow:0 include /opt/airflow/include
ENV RECIPEBENCH_RECIPES_DIR=/opt/airflow/include/recipes
