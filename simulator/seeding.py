"""What a new state directory starts with, written by whichever process gets there first.

Apart from simulator.app so that the supervisor (simulator.serve) seeds the store before
gunicorn starts without importing Flask and the platform's API.
"""
from __future__ import annotations

import time

from .population import Population
from .store import Store


def seed_revocations(store: Store, population: Population) -> None:
    """The population's lost and stolen cards, written once per state directory."""
    if store.meta_set_once("revocations_seeded", str(time.time())):
        with store.tx() as db:
            db.executemany("INSERT OR IGNORE INTO revocations (kind, value, at, reason) VALUES ('card', ?, 0, 'lost')",
                           ((population.serial_of(i),) for i in population.revoked_indices()))
