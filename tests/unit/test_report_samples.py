"""Samples travel worker -> master -> CSV and back; percentiles are nearest-rank."""
import csv
import io

import pytest

from loadtests.samples import FIELDS, Phase, Sample, breaker_level, percentile

SAMPLE = Sample(12.5, "pec", "offline", "accepted", 200, 7.25, True, "")


def test_percentile_nearest_rank_on_one_to_hundred():
    values = list(range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile(values, 0) == 1


def test_percentile_is_an_observed_value_not_an_interpolation():
    values = [10, 20, 30, 40]
    assert percentile(values, 50) == 20  # linear interpolation would give 25
    assert percentile(values, 51) == 30
    assert percentile(values, 95) == 40
    assert percentile([5.0], 95) == 5.0


def test_percentile_does_not_care_about_order_and_survives_float_rounding():
    values = [7, 1, 19, 3, 2, 11, 13, 5, 17, 4, 6, 8, 9, 10, 12, 14, 15, 16, 18, 20]
    assert percentile(values, 95) == 19  # 0.95 * 20 is 19.000000000000004 in floats


def test_percentile_empty_and_out_of_range():
    assert percentile([], 95) is None
    with pytest.raises(ValueError):
        percentile([1, 2], 101)


def test_row_round_trip_through_msgpack_like_lists_and_dicts():
    assert Sample.from_row(SAMPLE.to_row()) == SAMPLE
    assert Sample.from_row(SAMPLE.to_dict()) == SAMPLE
    assert list(FIELDS) == list(SAMPLE.to_dict())


def test_row_round_trip_through_csv_strings():
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(FIELDS)
    writer.writerow(SAMPLE.to_row())
    writer.writerow(Sample(1.0, "eligibility", "none", "error", 0, 1500.0, False, "reset").to_row())
    rows = list(csv.reader(io.StringIO(out.getvalue())))[1:]
    back = [Sample.from_row(r) for r in rows]
    assert back[0] == SAMPLE
    assert back[1].expected is False and back[1].status == 0 and back[1].reason == "reset"


@pytest.mark.parametrize("status, expected, unexpected", [
    (200, True, False), (200, False, True), (0, True, True), (503, True, True), (429, True, False),
])
def test_unexpected_counts_wrong_answers_transport_errors_and_5xx(status, expected, unexpected):
    sample = Sample(0.0, "eligibility", "online", "eligible", status, 1.0, expected)
    assert sample.unexpected is unexpected


def test_an_invoice_waiting_for_the_platform_is_the_one_documented_5xx():
    """503 PLATFORM_UNAVAILABLE on an invoice, judged acceptable for its phase: not counted; the
    same judged unacceptable (a healthy phase), another 5xx on an invoice, or that 503 on a rights
    check: counted."""
    def s(op, status, expected, reason):
        return Sample(0.0, op, "none", "problem", status, 1.0, expected, reason)
    assert not s("invoice", 503, True, "PLATFORM_UNAVAILABLE").unexpected
    assert s("invoice", 503, False, "PLATFORM_UNAVAILABLE").unexpected
    assert s("invoice", 502, True, "UPSTREAM_ERROR").unexpected
    assert s("eligibility", 503, True, "PLATFORM_UNAVAILABLE").unexpected


def test_phase_is_half_open():
    phase = Phase("outage", 30, 90, "down")
    assert phase.contains(30) and phase.contains(89.999)
    assert not phase.contains(90) and not phase.contains(29.9)


def test_breaker_levels():
    assert [breaker_level(s) for s in ("closed", "half_open", "half-open", "OPEN")] == [0, 0.5, 0.5, 1]
    assert breaker_level("none") is None and breaker_level(None) is None
