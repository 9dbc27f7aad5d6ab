FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
RUN mkdir -p var && useradd --system --home /app app && chown -R app /app/var
USER app

EXPOSE 8000
CMD ["sh", "-c", "python manage.py migrate --no-input && exec gunicorn midnite_test.wsgi --bind 0.0.0.0:8000 --workers ${WEB_CONCURRENCY:-2}"]
