"""Settings from GW_* variables, and back (serve -> gunicorn workers)."""
from __future__ import annotations

import pytest

from gateway.online.breaker import config_of
from gateway.settings import Settings, from_env, to_env


def test_defaults_match_the_documented_contract():
    s = from_env({})
    assert (s.connect_timeout_s, s.read_timeout_s, s.deadline_s) == (0.25, 1.0, 1.5)
    assert s.resilience == "full" and s.workers == 2 and s.client_id == "gw-1"
    assert s.client_secret == "" and s.service_secret() == ""  # no default secret: issued by the platform
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


def test_journal_location_picks_the_store_and_keeps_local_state_apart():
    pg = from_env({"GW_JOURNAL": "postgresql://gw@db.internal:5432/journal", "GW_LOCAL_STATE_DIR": "/srv/gw-a"})
    assert pg.journal_store == "postgresql" and pg.journal == "postgresql://gw@db.internal:5432/journal"
    assert pg.breaker_path == "/srv/gw-a/journal.sqlite.breaker" and pg.cache_path == "/srv/gw-a/cache"
    assert pg.leader_lock_path.startswith("/srv/gw-a/")
    assert from_env(to_env(pg)) == pg
    for raw, path in (("/tmp/x/j.db", "/tmp/x/j.db"), ("sqlite:////tmp/x/j.db", "/tmp/x/j.db"),
                      ("sqlite:///var/j.db", "var/j.db")):
        s = from_env({"GW_JOURNAL": raw})
        assert (s.journal_store, s.journal, s.journal_path) == ("sqlite", "", path)
    assert from_env({}).journal_store == "sqlite"
    with pytest.raises(ValueError):
        from_env({"GW_JOURNAL": "sqlite:///"})


def test_cli_journal_flag_accepts_a_url_and_a_state_dir(monkeypatch):
    from gateway import cli
    seen = []
    monkeypatch.setattr("gateway.serve.serve", lambda s: seen.append(s) or 0)
    cli.main(["serve", "--journal", "postgresql://gw@127.0.0.1:5/j", "--state-dir", "/tmp/replica-b"])
    assert seen[-1].journal_store == "postgresql" and seen[-1].state_dir == "/tmp/replica-b"
    cli.main(["serve", "--journal", "sqlite:////tmp/one/journal.sqlite"])
    assert seen[-1].journal_store == "sqlite" and seen[-1].journal_path == "/tmp/one/journal.sqlite"


def test_a_journal_url_in_logs_and_errors_hides_its_password():
    from gateway.offline.journal import redacted
    assert redacted("postgresql://gw:s3cret@db:5432/j") == "postgresql://gw:***@db:5432/j"
    assert redacted("postgresql://gw@db/j") == "postgresql://gw@db/j"
    assert redacted("/var/gateway/journal.sqlite") == "/var/gateway/journal.sqlite"


def test_the_service_secret_is_read_from_its_file_at_use(tmp_path):
    path = tmp_path / "gw-1.secret"
    path.write_text("first\n")
    s = from_env({"GW_CLIENT_SECRET_FILE": str(path), "GW_CLIENT_SECRET": "ignored"})
    assert s.service_secret() == "first"
    path.write_text("rotated\n")  # a secret replaced on disk is used at the next login, without a restart
    assert s.service_secret() == "rotated"
