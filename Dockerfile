FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PROMETHEUS_MULTIPROC_DIR=/app/var/prometheus

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# var/prometheus: every process's Prometheus counts, summed by a scrape (README, "Prometheus");
# made here so a volume mounted on it is the app user's.
RUN mkdir -p var/prometheus && useradd --system --home /app app && chown -R app /app/var
USER app

EXPOSE 8000
# granian, one worker process more than the cores unless WEB_CONCURRENCY says otherwise: a
# worker waiting on PostgreSQL leaves its core to the extra one (docs/BENCHMARKS.md).
CMD ["sh", "-c", "python manage.py migrate --no-input && exec granian --interface wsgi --host 0.0.0.0 --port 8000 --workers ${WEB_CONCURRENCY:-$(($(nproc) + 1))} --blocking-threads 1 --workers-kill-timeout 10 --access-log --access-log-fmt '[%(time)s] %(addr)s - %(method)s %(path)r %(protocol)s %(status)d %(dt_ms).3f' midnite_test.wsgi:application"]
