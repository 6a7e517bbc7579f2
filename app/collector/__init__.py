"""The collector: consumes Celery events into the history store and runs the Inspector.

It never imports Dash: the web side reads only what the collector wrote.
"""
