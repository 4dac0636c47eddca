# One image for every Airflow component of support-analytics (api-server, scheduler, dag-processor, triggerer,
# celery worker) and for the one-shot `init` service. Same pinned versions as the local venv (requirements/runtime.lock).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 \
    SA_HOME=/opt/support-analytics \
    AIRFLOW_HOME=/opt/airflow \
    SA_LOCAL_DIR=/opt/airflow/local

RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 50000 --home-dir /opt/airflow airflow

WORKDIR ${SA_HOME}
COPY requirements/runtime.lock ./requirements/
RUN pip install uv && uv pip install --system -r requirements/runtime.lock

COPY pyproject.toml README.md ./
COPY include ./include
COPY dags ./dags
COPY dbt ./dbt
COPY great_expectations ./great_expectations
RUN uv pip install --system --no-deps -e . \
 # Cosmos renders the DAG from dbt's manifest (LoadMode.DBT_MANIFEST): build it now, no database needed.
 && SA_DBT_HOST=build SA_DBT_PORT=5432 SA_DBT_DBNAME=build SA_DBT_USER=build SA_DBT_PASSWORD=build \
    dbt parse --project-dir dbt --profiles-dir dbt --quiet \
 # GX data docs render offline: their CSS/JS from the npm registry (sha512-pinned in include/quality/data_docs.py).
 && sa gx-assets \
 && chown -R airflow: ${SA_HOME}/dbt ${SA_HOME}/great_expectations ${SA_LOCAL_DIR}

ENV AIRFLOW__CORE__DAGS_FOLDER=${SA_HOME}/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=${SA_HOME}/include/airflow_plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    AIRFLOW__COSMOS__ENABLE_TELEMETRY=False \
    AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY=False \
    DO_NOT_TRACK=1 \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false \
    GX_ANALYTICS_ENABLED=false
USER airflow
ENTRYPOINT ["/usr/bin/tini", "--", "airflow"]
CMD ["version"]
