"""Group commit: concurrent acceptances share commits, each answered only once it is on disk.
The first two tests run on both journal stores (SQLite, PostgreSQL)."""
from __future__ import annotations

import threading
import uuid
from decimal import Decimal

import pytest

from gateway.offline.group_commit import GroupCommit
from gateway.app import open_journal
from gateway.offline.journal import Journal, JournalError, OfflineEntry, VelocityExceeded, VelocityLimit
from gateway.offline.journal_sqlite import SqliteJournal
from gateway.settings import Settings, journal_location as located


def open_at(location: str) -> Journal:
    return open_journal(located(location, Settings()))


def entry(bkey: str = "b-x", amount: str = "10.00", advice_id: str | None = None) -> OfflineEntry:
    return OfflineEntry(advice_id or uuid.uuid4().hex, "pec", 1.0, "123456789", "S-1", bkey, "OPTI",
                        Decimal(amount), "timeout", {"request": {"k": 1}}, "opt-1")


def test_concurrent_acceptances_are_each_committed_once_in_fewer_commits(journal_location):
    journal = open_at(journal_location)
    group = GroupCommit(journal)
    refs, errors, start = [], [], threading.Barrier(32)

    def accept(i: int) -> None:
        start.wait()
        try:
            ref, known = group.record_once(entry(f"b-{i}"))
            refs.append(ref)
            # answered: so it is already visible (committed) through another connection
            assert open_at(journal_location).get(ref) is not None and known is None
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
    threads = [threading.Thread(target=accept, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and len(set(refs)) == 32 and journal.status()["recorded"] == 32
    assert group.committed == 32 and group.batches <= 32


def test_velocity_is_checked_per_entry_in_order_inside_one_commit(journal_location):
    journal = open_at(journal_location)
    limit = VelocityLimit(0.0, 2, Decimal("1000"))
    results = journal.record_many([(entry("b-1"), None, limit), (entry("b-1"), None, limit),
                                   (entry("b-1"), None, limit), (entry("b-2"), None, limit)])
    assert [type(r).__name__ for r in results] == ["tuple", "tuple", "VelocityExceeded", "tuple"]
    assert journal.status()["recorded"] == 3
    same = entry("b-3", advice_id="a" * 32)
    first, again = journal.record_many([(same, None, None), (same, None, None)])
    assert first[1] is None and again[0] == first[0] and again[1] is not None  # a retry finds the first


def test_an_entry_of_its_own_fails_alone_and_a_failed_commit_fails_its_whole_batch(tmp_path):
    journal = SqliteJournal(str(tmp_path / "j.sqlite"))
    group = GroupCommit(journal)
    limit = VelocityLimit(0.0, 1, Decimal("1000"))
    group.record_once(entry("b-1"), None, limit)
    with pytest.raises(VelocityExceeded):
        group.record_once(entry("b-1"), None, limit)

    class Broken(SqliteJournal):
        def _conn(self):
            raise JournalError("disk gone")
    broken = GroupCommit(Broken(str(tmp_path / "k.sqlite")))
    with pytest.raises(JournalError):
        broken.record_once(entry())
    assert group.status()["recorded"] == 1  # everything else passes through to the journal
