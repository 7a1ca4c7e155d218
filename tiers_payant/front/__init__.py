"""The public port of both services: an asyncio front before gunicorn's workers.

The server (gunicorn) listens on an internal loopback port; this front owns the public
one. Two jobs:

- **Whole requests only** (`gate.py`): each request is forwarded once it has
  fully arrived, within header and body deadlines (408 otherwise), and connections are
  capped per source address and in total (429 / 503). Thousands of slow sockets cost the
  front a buffer each and gunicorn nothing.
- **Transport faults** (the platform's only, as Toxiproxy does): it asks
  `transport_mode()` every ~20 ms what to do ("pass", "refuse", "blackhole", "reset").
  The callable runs in a worker thread, so it may read the shared plan from a file or a
  database; if it raises, the last mode stays in force. The gateway passes `lambda: "pass"`.
"""
from .gate import FrontLimits, limits_from_env
from .server import MODES, FaultProxy, Front
from .sockets import free_port, wait_listening

__all__ = ["MODES", "FaultProxy", "Front", "FrontLimits", "limits_from_env", "free_port", "wait_listening"]
