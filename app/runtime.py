"""Running celery-scope: collector + web server in one process, or the collector alone."""
from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from celery import Celery

from .config import Settings
from .services import Services

log = logging.getLogger("celery_scope")

SERVER_THREADS = 8


class StartupError(RuntimeError):
    """Something the user must fix before celery-scope can start (port taken, store unusable)."""


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("waitress.queue", "celery"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("kombu").setLevel(logging.ERROR)


def _stop_on_signals() -> None:
    """Ctrl-C and SIGTERM both stop cleanly. SIGINT is set explicitly: a process started in
    the background of a non-interactive shell inherits it ignored, and Ctrl-C would not
    reach the demo's clean-up."""
    def handler(_signum, _frame):
        raise KeyboardInterrupt
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)


@contextmanager
def running_collector(settings: Settings, services: Services,
                      celery_app: Celery | None) -> Iterator[None]:
    """Start the demo cluster if no broker is set, then the collector; stop both on exit."""
    from .collector.demo import DemoCluster
    from .collector.service import Collector, make_celery_app

    demo = None
    if settings.demo:
        demo = DemoCluster()
        celery_app = demo.start()
    elif celery_app is None:
        celery_app = make_celery_app(settings.broker)
    services.celery_app = celery_app
    try:
        collector = Collector(celery_app, services.store, services.cache, settings)
        collector.start()
        try:
            yield
        finally:
            collector.stop()
    finally:
        if demo is not None:
            demo.stop()


def serve(settings: Settings, celery_app: Celery | None = None) -> None:
    """The `celery-scope` command: collector and dashboard until Ctrl-C or SIGTERM."""
    import waitress

    from . import create_app

    services = Services.open(settings)
    app = create_app(settings, services)
    try:
        # X-Forwarded-* reach the app only when proxies are trusted (ProxyFix reads them)
        server = waitress.create_server(app.server, host=settings.address, port=settings.port,
                                        threads=SERVER_THREADS, ident="celery-scope",
                                        clear_untrusted_proxy_headers=not settings.trusted_proxies)
    except OSError as exc:
        raise StartupError(f"cannot listen on {settings.address}:{settings.port}: {exc.strerror}; "
                           "choose another with --port") from None
    _stop_on_signals()
    try:
        with running_collector(settings, services, celery_app):
            url = f"http://{settings.address}:{settings.port}{settings.pathname_prefix}"
            log.info("celery-scope %s at %s", "demo cluster" if settings.demo else "dashboard", url)
            server.run()
    except KeyboardInterrupt:
        log.info("stopping")
    finally:
        server.close()
        services.close()


def collect(settings: Settings, celery_app: Celery | None = None) -> None:
    """The `celery-scope collect` command: only the collector (scale-out shape)."""
    services = Services.open(settings)
    stop = threading.Event()
    _stop_on_signals()
    try:
        with running_collector(settings, services, celery_app):
            log.info("collecting events into %s", settings.store)
            stop.wait()
    except KeyboardInterrupt:
        log.info("stopping")
    finally:
        services.close()
