"""WSGI entry point for the scale-out shape: `gunicorn app.wsgi:server` beside `celery-scope collect`,
both reading their settings from CELERY_SCOPE_* variables or CELERY_SCOPE_CONFIG."""
from . import create_app
from .config import resolve

server = create_app(resolve()).server
