"""gunicorn entry point: `simulator.wsgi:app`, configured by SIM_* variables."""
from .app import create_app
from .settings import from_env

app = create_app(from_env())
