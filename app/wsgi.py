"""WSGI entry point for the scale-out shape: `gunicorn celery_scope.wsgi:server` beside
`celery-scope collect`, both reading their settings from CELERY_SCOPE_* variables or
CELERY_SCOPE_CONFIG."""
from . import create_app
from .collector.service import make_celery_app
from .config import resolve
from .runtime import limit_malloc_arenas
from .services import Services

limit_malloc_arenas()  # before any thread of this worker starts
_settings = resolve()
_celery_app = make_celery_app(_settings.broker) if _settings.broker else None  # demo: read-only
server = create_app(_settings, Services.open(_settings, _celery_app)).server
