"""Running celery-scope: collector + web server in one process, or the collector alone."""
from __future__ import annotations

import ctypes
import gc
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from celery import Celery

from .config import Settings
from .services import Services
from .store.outage import short_store_error

log = logging.getLogger("celery_scope")

SERVER_THREADS = 8
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # glibc's mallopt() parameter


class StartupError(RuntimeError):
    """Something the user must fix before celery-scope can start (port taken, store unusable)."""


def limit_malloc_arenas() -> bool:
    """Two malloc arenas instead of glibc's eight per core; whether that was set.

    By default each thread that allocates gets an arena of its own and keeps what it frees
    there; with the collector's and the web server's two dozen threads one process held
    403 MB after the pages of a 1M-task store were read, 268 MB with two arenas. Left alone
    off glibc, and when MALLOC_ARENA_MAX is set: the operator's value wins."""
    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    return bool(mallopt(_M_ARENA_MAX, MALLOC_ARENAS))


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("waitress.queue", "celery"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("kombu").setLevel(logging.ERROR)


def store_location(url: str) -> str:
    """Where the history is kept, to tell the user: an SQLite store's file, or the URL
    with its password hidden."""
    from sqlalchemy.engine import make_url
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or "memory"
    return parsed.render_as_string(hide_password=True)


def say(message: str) -> None:
    """What the terminal is told while celery-scope stops (beside the log)."""
    print(message, file=sys.stderr, flush=True)


def _stop_on_signals() -> None:
    """Ctrl-C and SIGTERM both stop cleanly, once: a second one while stopping is told to
    wait rather than cut the stop short (the demo's workers would be left running). SIGINT
    is set explicitly: a process started in the background of a non-interactive shell
    inherits it ignored, and Ctrl-C would not reach the demo's clean-up."""
    def patience(_signum, _frame):
        say("Still stopping; a moment…")

    def handler(_signum, _frame):
        signal.signal(signal.SIGTERM, patience)
        signal.signal(signal.SIGINT, patience)
        raise KeyboardInterrupt
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)


@contextmanager
def running_collector(settings: Settings, services: Services,
                      celery_app: Celery | None) -> Iterator[None]:
    """Start the demo cluster if no broker is set, then the collector; stop both on exit.

    The demo's workers stop first, while the collector still receives their last events;
    what they could not finish is then recorded in the store as ended by the stop."""
    from .collector.demo import DemoCluster, settle
    from .collector.service import Collector, make_celery_app

    problems: list[str] = []
    demo = DemoCluster(report=problems.append) if settings.demo else None
    collector: Collector | None = None
    try:
        if demo is not None:
            celery_app = demo.start()
        elif celery_app is None:
            assert settings.broker  # not the demo: a broker is set
            celery_app = make_celery_app(settings.broker)
        services.celery_app = celery_app
        collector = Collector(celery_app, services.store, services.cache, settings)
        if demo is not None:  # what the demo reports from now on goes to the banner too
            for message in problems:
                collector.status.demo_failed(message)
            demo.report = collector.status.demo_failed
        collector.start()
        yield
    finally:
        if demo is not None:
            say("Stopping the demo workers…")
            if collector is not None:  # nothing to ask workers that are stopping: an Inspector
                # round would wait out its timeout on them while the stop waits for it
                for part in (collector.poller, collector.queues):
                    threading.Thread(target=part.stop, daemon=True).start()
            demo.stop_workers()
            demo.wait_for_events_read()
        if collector is not None:
            collector.stop()
        if demo is not None:
            try:
                settle(services.store)
            except Exception as exc:  # noqa: BLE001 — the demo's files are removed all the same
                log.warning("demo: could not record how its tasks ended: %s",
                            short_store_error(exc))
            demo.remove_state_dir()


def serve(settings: Settings, celery_app: Celery | None = None) -> None:
    """The `celery-scope` command: collector and dashboard until Ctrl-C or SIGTERM."""
    import waitress

    from . import create_app

    limit_malloc_arenas()  # before any thread starts
    services = Services.open(settings)
    log.info("history kept in %s", store_location(settings.store))
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
            try:
                server.run()
            finally:
                server.close()  # no request waits on a server that stopped answering
    except KeyboardInterrupt:
        pass
    finally:
        services.close()
    _stopped()


def collect(settings: Settings, celery_app: Celery | None = None) -> None:
    """The `celery-scope collect` command: only the collector (scale-out shape)."""
    limit_malloc_arenas()  # before any thread starts
    services = Services.open(settings)
    log.info("history kept in %s", store_location(settings.store))
    stop = threading.Event()
    _stop_on_signals()
    try:
        with running_collector(settings, services, celery_app):
            log.info("collecting events")
            stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        services.close()
    _stopped()


def _stopped() -> None:
    """The process ends next. Its objects are frozen out of the garbage collector first: the
    interpreter's last full collection over a Dash app's heap took 5 s on a loaded 2-core
    machine, and the exit frees all of it anyway."""
    say("Stopped.")
    gc.freeze()
