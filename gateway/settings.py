"""The gateway's one Settings, read from GW_* environment variables (units in names).

`python -m gateway serve` turns its flags into these variables for the gunicorn workers,
so the command line, the environment and tests all meet here. Files that the workers
share (breaker state, leader lock, caches) live beside the journal unless told otherwise.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace



@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    platform_url: str = "http://127.0.0.1:8081"
    journal_path: str = "var/gateway/journal.sqlite"  # the SQLite journal; local state goes beside it
    journal: str = ""  # GW_JOURNAL: "" = SQLite at journal_path; a path, sqlite:///path or postgresql://...
    journal_pool_size: int = 8  # PostgreSQL connections per worker (a decision holds one for one commit)
    local_state_dir: str = ""  # "" = beside journal_path; one per replica (breaker, caches, leader lock)
    cache_dir: str = ""  # "" = <state dir>/cache
    resilience: str = "full"  # "full" | "naive"
    workers: int = 2
    threads: int = 32  # per worker; a thread waits at most the 1.5 s deadline before the breaker opens
    # online path
    connect_timeout_s: float = 0.25
    read_timeout_s: float = 1.0
    deadline_s: float = 1.5
    max_attempts: int = 3
    backoff_base_s: float = 0.05
    backoff_max_s: float = 0.4
    pool_size: int = 32  # idle kept-alive connections per worker (gateway.online.hop); busy ones are not capped
    naive_timeout_s: float = 30.0
    # hedge (gateway.online.hedge): stand in when the platform has not answered within
    # clamp(hedge_factor x rolling p99 of healthy calls, hedge_min_s, hedge_max_s)
    hedge: bool = True
    hedge_factor: float = 4.0
    hedge_min_s: float = 0.05
    hedge_max_s: float = 0.5
    hedge_window: int = 1000  # healthy calls the p99 is taken over, per worker
    hedge_late_threads: int = 16  # per worker: the rest of hedged exchanges, off gunicorn's threads
    # breaker (gateway.online.breaker.config_of builds its BreakerConfig)
    breaker_window_s: float = 10.0
    breaker_min_calls: int = 10
    breaker_failure_rate: float = 0.5
    breaker_slow_call_rate: float = 0.8
    breaker_slow_call_s: float = 1.0
    breaker_open_s: float = 2.0
    breaker_half_open_probes: int = 3
    breaker_max_calls: int = 100  # like resilience4j's default window; each record rewrites it
    breaker_consecutive_failures: int = 3  # this many failures in a row open at once (0: rates only)
    # background work (one leader per gateway)
    refresh_interval_s: float = 3.0
    probe_interval_s: float = 0.1
    probe_timeout_s: float = 0.25
    probe_failures: int = 2  # consecutive transport failures that force the breaker open
    journal_group_commit: bool = True  # concurrent offline acceptances share one durable commit
    journal_group_max: int = 64  # acceptances per shared commit, at most
    drain_batch: int = 64  # advices per batch, at most; the byte bound usually stops it first
    drain_batch_bytes: int = 48_000  # under the platform's 64 KiB body limit (tiers_payant.parsing)
    drain_pacing: str = "aimd"  # "aimd" (gateway.background.pacing) | "fixed" (at drain_rate_per_s)
    drain_rate_per_s: float = 50.0  # aimd: the starting rate; fixed: the rate, at most
    drain_rate_step_per_s: float = 50.0  # aimd: added per healthy batch; halved on strain
    drain_ceiling_per_s: float = 0.0  # aimd: never above this (0: none beyond what the platform sustains)
    drain_latency_tolerance: float = 1.5  # aimd: answer time per advice up to this x its baseline is healthy
    drain_live_tolerance: float = 1.2  # aimd: live p95 up to this x the p95 seen while idle is healthy
    drain_decrease_cooldown_s: float = 2.0  # aimd: at most one halving this often
    drain_concurrency: int = 2  # batches in flight at once (the platform judges on several workers)
    drain_lease_s: float = 10.0
    drain_backoff_base_s: float = 0.5  # per batch after a transient failure, doubling per attempt
    drain_backoff_max_s: float = 30.0
    drain_pending_warn_after: int = 5  # "still judging" answers for one advice before a WARNING
    # offline detection (gateway.offline.account_watch): assumptions, see its docstring
    offline_account_window_s: float = 600.0
    offline_account_max_failed_proofs: int = 10
    offline_account_max_distinct: int = 30
    # identity and domain
    client_id: str = "gw-1"
    client_secret: str = ""  # never a default: issued by the platform (`simulator accounts --service gw-1`)
    client_secret_file: str = ""  # read at use when set: a secret kept out of the environment (preferred)
    log_key: bytes = b""  # "" = a random key kept in <state_dir>/pseudonym.key
    journal_key_file: str = ""  # "" = <state_dir>/journal.key: seals the journal's personal data
    pseudonym_key_file: str = ""  # "" = <state_dir>/pseudonym.key, when log_key is not given
    pec_validity_days: int = 180
    # The stand-in policy for invoices (gateway.offline.life): off, an invoice against an offline
    # agreement the platform has not judged is refused PEC_PROVISIONAL; on, it is checked against
    # the agreement and the AMC's offline limit, journaled, advised and judged at reconciliation.
    offline_invoices: bool = False
    invoice_tolerance_eur: str = "0.05"  # as the platform's SIM_INVOICE_TOLERANCE_EUR (assumption)

    def service_secret(self) -> str:
        """The service account's secret ("" when none is configured: the gateway says so loudly)."""
        if self.client_secret_file:
            with open(self.client_secret_file, encoding="utf-8") as f:
                return f.read().strip()
        return self.client_secret

    @property
    def journal_store(self) -> str:
        """"postgresql" (shared by replicas) or "sqlite" (embedded, one host)."""
        return "postgresql" if self.journal.startswith(PG_SCHEMES) else "sqlite"

    @property
    def state_dir(self) -> str:
        return os.path.abspath(self.local_state_dir) if self.local_state_dir else \
            os.path.dirname(os.path.abspath(self.journal_path))

    @property
    def cache_path(self) -> str:
        return self.cache_dir or os.path.join(self.state_dir, "cache")

    @property
    def journal_key_path(self) -> str:
        return self.journal_key_file or os.path.join(self.state_dir, "journal.key")

    @property
    def pseudonym_key_path(self) -> str:
        """Replicas sharing a PostgreSQL journal must share this key (and the journal key):
        one beneficiary is one pseudonym, hence one budget, and a survivor unseals the
        entries of a dead peer. gateway.app checks it against the journal at start-up."""
        return self.pseudonym_key_file or os.path.join(self.state_dir, "pseudonym.key")

    @property
    def lookup_log_path(self) -> str:
        return os.path.join(self.state_dir, os.path.basename(self.journal_path) + ".lookups")

    @property
    def breaker_path(self) -> str:
        return os.path.join(self.state_dir, os.path.basename(self.journal_path) + ".breaker")

    @property
    def leader_lock_path(self) -> str:
        return os.path.join(self.state_dir, os.path.basename(self.journal_path) + ".leader")


PG_SCHEMES = ("postgresql://", "postgres://")


def journal_location(value: str, s: Settings) -> Settings:
    """`--journal` / GW_JOURNAL: a PostgreSQL URL is kept as it is; a path or `sqlite:///path`
    (SQLAlchemy's spelling: `sqlite:////abs/path` for an absolute one) becomes journal_path."""
    if not value or value.startswith(PG_SCHEMES):
        return replace(s, journal=value)
    if value.startswith("sqlite://"):
        value = value[len("sqlite://"):]
        value = value[1:] if value.startswith("/") else value
        if not value:
            raise ValueError("sqlite:/// needs a path")
    return replace(s, journal="", journal_path=value)


def _env_name(field_name: str) -> str:
    return "GW_" + field_name.upper()


def from_env(env: dict[str, str] | None = None) -> Settings:
    """Every field can be set as GW_<FIELD> (GW_DRAIN_RATE_PER_S, GW_PLATFORM_URL...)."""
    e = os.environ if env is None else env
    values = {}
    for f in fields(Settings):
        raw = e.get(_env_name(f.name))
        if raw is None:
            continue
        kind = type(getattr(Settings, f.name))
        if kind is bool:
            values[f.name] = raw.strip().lower() in ("1", "true", "yes", "on")
        else:
            values[f.name] = raw.encode() if kind is bytes else kind(raw)
    s = journal_location(values.pop("journal", ""), Settings(**values))
    if s.resilience not in ("full", "naive"):
        raise ValueError(f"GW_RESILIENCE must be full or naive, not {s.resilience!r}")
    if s.drain_pacing not in ("aimd", "fixed"):
        raise ValueError(f"GW_DRAIN_PACING must be aimd or fixed, not {s.drain_pacing!r}")
    return replace(s, platform_url=s.platform_url.rstrip("/"))


def to_env(s: Settings) -> dict[str, str]:
    out = {}
    for f in fields(Settings):
        value = getattr(s, f.name)
        out[_env_name(f.name)] = value.decode() if isinstance(value, bytes) else str(value)
    return out
