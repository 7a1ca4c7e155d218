"""gunicorn entry point: `gateway.wsgi:app`, configured by GW_* variables (see settings.py).

Loaded in each worker after the fork (no preload), so every worker opens its own
journal connection and HTTP pool, and competes for the background leadership.
"""
from gateway.app import create_app
from gateway.settings import from_env

app = create_app(from_env(), background=True)
