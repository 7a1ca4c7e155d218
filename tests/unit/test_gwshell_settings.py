"""Settings from GW_* variables, and back (serve -> gunicorn workers)."""
from __future__ import annotations

import hashlib
import hmac

import pytest

from gateway.online.breaker import config_of
from gateway.settings import Settings, from_env, to_env


def test_defaults_match_the_documented_contract():
    s = from_env({})
    assert (s.connect_timeout_s, s.read_timeout_s, s.deadline_s) == (0.25, 1.0, 1.5)
    assert s.resilience == "full" and s.workers == 2 and s.client_id == "gw-1"
    assert s.client_secret == hmac.new(b"42", b"gw-1", hashlib.sha256).hexdigest()[:32]
    assert s.cache_path.endswith("/cache") and s.breaker_path.endswith("journal.sqlite.breaker")


def test_environment_overrides_and_round_trip():
    s = from_env({"GW_DRAIN_RATE_PER_S": "7.5", "GW_WORKERS": "3", "GW_PLATFORM_URL": "http://127.0.0.1:9/",
                  "GW_LOG_KEY": "k", "GW_RESILIENCE": "naive"})
    assert s.drain_rate_per_s == 7.5 and s.workers == 3 and s.platform_url == "http://127.0.0.1:9"
    assert s.log_key == b"k" and s.resilience == "naive"
    assert from_env(to_env(s)) == s
    assert config_of(s).open_s == Settings().breaker_open_s


def test_unknown_resilience_is_refused():
    with pytest.raises(ValueError):
        from_env({"GW_RESILIENCE": "brave"})
