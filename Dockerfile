# The production image: one image for every role (web, worker, beat, flower, migrate);
# docker-compose.yml picks the role with `command`. The default command serves the web app.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    STATIC_ROOT=/app/staticfiles \
    DATA_DIR=/data \
    LOG_JSON=true \
    PORT=8000

# A fixed uid so volume ownership is predictable across rebuilds.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app

WORKDIR /app

# Dependencies first: this layer is reused until requirements.txt changes.
COPY requirements.txt .
RUN pip install -r requirements.txt

# Code stays owned by root: the app user can read it but not rewrite it.
COPY . .

# The static files are part of the image (whitenoise serves them with hashed names). Production
# settings refuse to import without their secrets; these exist only inside this build step, are
# never shipped, and sign nothing (tests/test_compose.py imports the settings with exactly them).
RUN DJANGO_SECRET_KEY="build-time-only-collectstatic-key-not-used-at-runtime-0123456789" \
    FULFILMENT_SIGNING_KEY="K94CwmtHT2aOuUgCFWKbJZ3LMshN/O6qnGCm2CkgPD4=" \
    PAYMENTS_ALLOW_SIMULATED="true" \
    python manage.py collectstatic --noinput --verbosity 0

# /data holds uploaded and private (paid) files; a named volume mounted here inherits this owner.
RUN mkdir -p /data/media /data/private && chown -R app:app /data

USER app
EXPOSE 8000

# gunicorn binds 0.0.0.0:$PORT and runs $WEB_CONCURRENCY workers when those are set (its own
# defaults read them). Heartbeat files go to /dev/shm: a disk-backed /tmp can stall workers.
CMD ["gunicorn", "config.wsgi:application", "--worker-tmp-dir", "/dev/shm", "--forwarded-allow-ips", "*", "--no-control-socket"]
