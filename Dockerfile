# The touchline Airflow image: the official Airflow 3 image with the touchline package
# installed under the project's pinned constraints. The DAGs, the dbt project and the
# expectations are mounted by docker-compose.yml, so changing them needs no rebuild;
# changing include/touchline, pyproject.toml or constraints.txt does (docker compose build).
FROM apache/airflow:3.3.2-python3.11

# Where the data volume and the auth volume are mounted: created here, owned by the airflow
# user, so that the named volumes docker-compose.yml mounts on them start writable.
USER root
RUN mkdir -p \
        /opt/touchline/data/drop \
        /opt/touchline/data/landing \
        /opt/touchline/data/warehouse \
        /opt/touchline/data/output \
        /opt/touchline/src \
        /opt/airflow/auth \
    && chown -R airflow:0 /opt/touchline /opt/airflow/auth
USER airflow

WORKDIR /opt/touchline/src
COPY --chown=airflow:0 pyproject.toml constraints.txt ./
COPY --chown=airflow:0 include/ include/
# The constraints pin apache-airflow to the image's own version, so this cannot move Airflow.
RUN pip install --no-cache-dir -c constraints.txt ".[postgres,celery]"

WORKDIR /opt/airflow
