# One image for every Vitals process: web (gunicorn), worker and beat (celery) and the
# one-shot migrate step. See docs/operations.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VITALS_VAR_DIR=/app/var \
    DJANGO_SETTINGS_MODULE=config.settings.production

WORKDIR /app

# Dependencies first, from the lock file (every package pinned, with its hashes; bin/lock
# writes it from pyproject.toml), so that a code change does not reinstall them: this
# layer is rebuilt only when the lock changes.
COPY requirements/base.txt requirements/base.txt
RUN pip install --require-hashes -r requirements/base.txt

# The project itself, installed in place (editable) so templates/ and static/ sit
# next to the code that finds them, with no second copy in site-packages.
COPY . .
RUN pip install --no-deps -e .

# Static files are collected and compressed at build time; whitenoise serves them.
# The secret key exists for this one command only (random, never stored); the real one
# comes from the environment at run time (and start-up fails without it).
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --no-input -v 0

RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin vitals \
    && mkdir -p /app/var \
    && chown -R vitals:vitals /app/var
USER vitals

EXPOSE 8000
CMD ["gunicorn", "--config", "gunicorn.conf.py", "config.wsgi:application"]
