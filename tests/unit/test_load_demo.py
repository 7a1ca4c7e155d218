"""The demo's narration and side-by-side verdicts, rendered without a terminal or a run."""
from rich.console import Console

from loadtests.demo import side_by_side, story, view


def render(renderable) -> str:
    console = Console(record=True, width=140, color_system=None)
    console.print(renderable)
    return console.export_text()


def summary(resilience, passed, offline_share):
    return {"requests": 1000, "unexpected": 0 if passed else 400, "slo_pass": passed,
            "breaker": {"opened_after_s": 0.4 if passed else None},
            "journal": {"recorded": 300 if passed else 0, "drained": 300 if passed else 0},
            "reconciliation": {"exposure_eur": "12.00"},
            "phases": [{"name": "degraded", "offline_share": offline_share, "p95_ms": 9.0}]}


def test_the_story_follows_the_phase_and_the_mode():
    assert "breaker" in story("cut", "full") and "fails" in story("cut", "naive")
    assert "journal drains" in story("return", "full") and "Nothing was journaled" in story("return", "naive")
    assert story(None, "full").startswith("Starting")


def test_the_live_view_shows_phase_breaker_rates_and_journal():
    progress = {"elapsed_s": 30.0, "phase": "degraded", "planned_fault": "down", "users": 30, "requests": 900,
                "unexpected": 0, "breaker": "open", "recent": {"online": 0.0, "offline": 31.5, "declined": 9.0,
                                                               "failed": 0.0, "offline_share": 0.97},
                "journal": {"recorded": 400, "pending": 400, "drained": 0}, "reconciliation": {"exposure_eur": "0.00"}}
    text = render(view(progress, "full", 80.0))
    for wanted in ("degraded", "open", "31.5 offline", "97%", "pending 400", "30 / 80 s"):
        assert wanted in text, wanted


def test_side_by_side_shows_both_verdicts():
    text = render(side_by_side(summary("full", True, 0.96), summary("naive", False, 0.0)))
    assert "96%" in text and "0%" in text and "PASS" in text and "FAIL" in text
    assert "no report" in render(side_by_side(summary("full", True, 0.9), None))
