"""Periodic tasks: every beat schedule entry (the app's, django-celery-beat's, RedBeat's),
when it should run by Celery's own schedule arithmetic, which runs were its, and its status."""
