# One image for every Airflow component of support-analytics (api-server, scheduler, dag-processor, triggerer,
# Celery worker, flower), the one-shot airflow-init, the `sa` CLI and the MCP server: the official Airflow image plus
# requirements/runtime.lock (the versions the local venv has, without its test and lint tools), the project, dbt's
# manifest and the GX data docs assets. No secret is baked in: every password and key comes from the environment at
# run time (docker-compose.yaml, docs/production.md).
# Not built here (no Docker engine on these machines): checked statically by tests/unit/test_deployment_files.py.
FROM apache/airflow:3.3.2-python3.11

# The official image runs as `airflow` (uid 50000, gid 0) with Airflow in the virtualenv ~/.local (on PATH), and
# its /opt/airflow (AIRFLOW_HOME) belongs to that user: every step below runs as it, nothing here needs root. Numeric,
# so that Kubernetes' runAsNonRoot can tell it is not root.
USER 50000

ENV SA_HOME=/opt/airflow/support-analytics \
    SA_LOCAL_DIR=/opt/airflow/local \
    PYTHONUNBUFFERED=1
# Where Airflow finds the DAGs and plugins; no usage telemetry leaves the container (set before dbt runs below).
ENV AIRFLOW__CORE__DAGS_FOLDER=${SA_HOME}/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=${SA_HOME}/include/airflow_plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    AIRFLOW__COSMOS__ENABLE_TELEMETRY=False \
    AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY=False \
    DO_NOT_TRACK=1 \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false \
    GX_ANALYTICS_ENABLED=false

# The folders the compose file mounts its volumes on, created here so that a new volume belongs to `airflow`.
RUN mkdir -p "${SA_HOME}" "${SA_LOCAL_DIR}" /opt/airflow/data/landing /opt/airflow/data/exports \
        /opt/airflow/data/dbt-docs
WORKDIR ${SA_HOME}

# The official image's way to add packages: pip as the airflow user, with Airflow pinned to the image's own version
# so that the lock can never replace it (the lock pins the same 3.3.2; a different pin fails the build).
COPY --chown=airflow:0 requirements/runtime.lock requirements/runtime.lock
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r requirements/runtime.lock

COPY --chown=airflow:0 pyproject.toml README.md ./
COPY --chown=airflow:0 include include
COPY --chown=airflow:0 dags dags
COPY --chown=airflow:0 dbt dbt
COPY --chown=airflow:0 great_expectations great_expectations
# The project itself, --no-deps (the lock above is its whole dependency set) and editable: the settings find dags/,
# dbt/ and great_expectations/ beside the `include` package (include/config.py, PROJECT_ROOT).
RUN pip install --no-cache-dir --no-deps -e . \
 # Cosmos renders the transform from dbt's manifest (LoadMode.DBT_MANIFEST): parse it now. Parsing never connects,
 # and the profile's dev target has a default for every SA_DBT_* variable (dbt/profiles.yml): no credential is set.
 && dbt parse --project-dir dbt --profiles-dir dbt --quiet \
 # GX data docs render offline: their CSS/JS from the npm registry (sha512-pinned in include/quality/data_docs.py).
 && sa gx-assets \
 && mkdir -p great_expectations/uncommitted/data_docs

# The official entrypoint stays (/usr/bin/dumb-init -- /entrypoint): `docker run IMAGE scheduler` runs
# `airflow scheduler` after waiting for the metadata DB; compose's commands are Airflow subcommands.
CMD ["version"]
