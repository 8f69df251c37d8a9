"""gunicorn entry point: `gunicorn api.wsgi:app`."""

from api.app import get_app

app = get_app()
