"""gunicorn's config for the platform: load the code once in the master, fork after.

Imported by the gunicorn master (`-c python:simulator.gunicorn_conf`). It imports the
platform's modules (Flask, pydantic, cryptography, the API: about 45 MB per process) but
builds nothing: no store connection, no thread, no socket exists before the fork, so each
worker still builds its own services in `simulator.wsgi`. The workers then share those
modules' pages with the master instead of each loading a copy. `gc.freeze()` moves every
object loaded so far out of the collector's reach, so a worker's collections do not write
to (and so copy) the shared pages.
"""
import gc

import simulator.app  # noqa: F401 - modules only; the app itself is made in each worker

gc.freeze()
