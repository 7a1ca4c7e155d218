"""The phished-account scenario without Locust: its `attack` section, its gate, its hooks
and the intruder's guesses, on hand-made samples and captures."""
import dataclasses
import random
from datetime import date

from loadtests.capture import write_capture
from loadtests.collect import RunState
from loadtests.run import summarize
from loadtests.samples import Sample
from loadtests.scenarios import load
from loadtests.scenarios import phished_account as pa
from tiers_payant.nir import is_valid_nir

T0 = 1_700_000_000.0
ID = pa.ATTACKER_CLIENT_ID


def probe(t, reason="BENEFICIARY_NOT_ON_CARD", status=200, decision="not_eligible", mode="online"):
    return Sample(t, pa.ATTACK, mode, decision, status, 12.0, True, reason)


def refused(t, code="ACCOUNT_SUSPENDED", status=403):
    return Sample(t, pa.ATTACK, "none", "problem", status, 5.0, True, code)


def shop(t, ok=True, status=200):
    return Sample(t, "eligibility", "online", "eligible", status, 20.0, ok, "" if ok else "wrong")


def account(suspended_at=None, **counts):
    return {"client_id": ID, "suspended": suspended_at is not None, "suspended_at": suspended_at,
            "suspended_reason": "failed_proofs: 13 of 20 lookups..." if suspended_at else None,
            "lookups": 20, "probes": 13, "without_usable_card": 7, "distinct_beneficiaries_answered": 0,
            "distinct_identities_probed": 13, "lookups_until_suspension": 20 if suspended_at else None, **counts}


def caught_after(seconds):
    """Ten answered probes and three forged cards from t=10 s, suspended `seconds` after the
    test start, then refused."""
    samples = [probe(10 + i * 0.1) for i in range(10)]
    samples += [probe(11.5 + i * 0.1, "CARD_SIGNATURE_INVALID") for i in range(3)]
    samples += [refused(seconds + 0.01), refused(seconds + 2)]
    return samples, {"t0": T0, "scenario_capture": {"account": account(T0 + seconds)}}


def attack(samples, capture):
    return pa.extra_summary(samples, {}, load("phished-account").report_phases(), capture=capture)["attack"]


def test_the_attack_section_counts_identities_answered_and_times_the_suspension():
    samples, capture = caught_after(12.0)
    a = attack(samples + [shop(3), shop(4)], capture)
    assert a["distinct_beneficiaries_answered"] == 10  # "not on this card" is an answer; forged cards are not
    assert a["without_usable_card"] == 3
    assert a["requests"] == 15 and a["refused"] == {"ACCOUNT_SUSPENDED": 2}
    assert a["suspended"] is True and a["suspended_after_s"] == 12.0
    assert a["started_after_s"] == 10 and a["detected_in_s"] == 2.0
    assert a["answered_after_suspension"] == 0 and a["rule"] == "failed_proofs"
    assert a["platform"]["distinct_identities_probed"] == 13 and "alerts" not in a["platform"]


def test_an_answer_after_the_suspension_is_counted_apart():
    samples, capture = caught_after(12.0)
    a = attack(samples + [probe(13.0)], capture)
    assert a["answered_after_suspension"] == 1 and a["distinct_beneficiaries_answered"] == 11


def test_without_the_control_api_report_suspension_is_unknown_and_fails_the_gate():
    samples, _ = caught_after(12.0)
    a = attack(samples, {"t0": T0})
    assert a["suspended"] is None and a["suspended_after_s"] is None
    a = attack(samples, None)
    assert a["suspended"] is None


def test_a_suspension_left_over_from_an_earlier_run_is_not_this_runs():
    samples, _ = caught_after(12.0)
    a = attack(samples, {"t0": T0, "scenario_capture": {"account": account(T0 - 300)}})
    assert a["suspended"] is False and a["suspended_after_s"] == -300


def test_offline_or_problem_answers_are_not_answers_about_a_person():
    a = attack([probe(1, mode="offline"), probe(2, "", 502, "problem", "none"), probe(3, "CARD_REVOKED"),
                probe(4, "CONTRACT_TERMINATED"), probe(5, "", 200, "eligible")], {"t0": T0})
    assert a["distinct_beneficiaries_answered"] == 2  # a terminated contract and a hit, both online


def _run_folder(tmp_path, attacker_samples, capture_account, hurt_shops=0):
    """A capture as the master leaves it: shops all along, the intruder, its account report."""
    state = RunState(scenario=load("phished-account"), t0=T0)
    state.samples = [shop(t / 10, ok=t >= 3 * hurt_shops) for t in range(0, 400, 3)]
    state.samples = [dataclasses.replace(s, t_s=T0 + s.t_s) for s in state.samples + attacker_samples]
    state.status = {"journal": {"recorded": 0, "drained": 0, "pending": 0}}
    write_capture(tmp_path, state, resilience="full", duration_option="",
                  scenario_capture={"account": capture_account})
    return len(state.samples) - len(attacker_samples)


def test_the_gate_passes_when_the_intruder_is_caught_and_shops_are_served(tmp_path):
    samples, capture = caught_after(12.0)
    samples.append(refused(13.0, "INTERNAL_ERROR", 500))  # the intruder's own trouble is not the shops'
    shops = _run_folder(tmp_path, samples, capture["scenario_capture"]["account"])
    summary = summarize(tmp_path, load("phished-account"), "full")
    assert summary["slo_pass"], [r for r in summary["slos"] if not r["pass"]]
    assert summary["requests"] == shops and summary["unexpected"] == 0  # the intruder's samples are apart
    assert summary["attack"]["requests"] == len(samples)
    assert summary["attack"]["suspended_after_s"] == 12.0


def test_the_gate_fails_without_detection_and_when_a_shop_is_hurt(tmp_path):
    samples = [probe(8 + i * 0.1) for i in range(120)]  # never stopped
    _run_folder(tmp_path, samples, account(None, lookups=0, probes=0, distinct_identities_probed=0))
    summary = summarize(tmp_path, load("phished-account"), "full", detection="off")
    failed = {r["metric"]: r["actual"] for r in summary["slos"] if not r["pass"]}
    assert failed == {"attack.suspended": 0, "attack.distinct_beneficiaries_answered": 120}
    assert summary["run"]["detection"] == "off"

    caught, capture = caught_after(12.0)
    _run_folder(tmp_path / "hurt", caught, capture["scenario_capture"]["account"], hurt_shops=1)
    summary = summarize(tmp_path / "hurt", load("phished-account"), "full")
    assert summary["unexpected"] == 1 and summary["slo_pass"] is False
    assert summary["attack"]["suspended"] is True


def test_the_hooks_reenable_then_read_the_intruders_account():
    calls = []

    class Reply:
        def raise_for_status(self):
            return None

        def json(self):
            return {**account(T0 + 5), "alerts": [{"kind": "account_suspended"}]}

    def control(method, path, **kw):
        calls.append((method, path))
        return Reply()

    pa.on_test_start(control)
    captured = pa.on_test_stop(control)
    assert calls == [("POST", f"/v1/accounts/{ID}/enable"), ("GET", f"/v1/accounts/{ID}")]
    assert captured["account"]["suspended_at"] == T0 + 5 and "alerts" not in captured["account"]


def test_the_intruder_never_repeats_a_plausible_identity():
    rng, seen = random.Random(7), set()
    identities = [pa.random_identity(rng, seen) for _ in range(2000)]
    assert len({(i["nir"], i["birth_date"]) for i in identities}) == 2000
    for i in identities:
        born = date.fromisoformat(i["birth_date"])
        assert is_valid_nir(i["nir"]) and i["birth_rank"] == 1
        assert i["nir"][1:5] == f"{born.year % 100:02d}{born.month:02d}"  # the NIR agrees with the birth date


def test_the_scenario_tells_its_story_and_keeps_one_intruder_apart():
    s = load("phished-account")
    assert "Phases" in s.story and "SLOs" in s.story and all(p.name in s.story for p in s.phases)
    assert s.apart == (pa.ATTACK,) and s.users["Attacker"] == 1 and ID == "opt-000998"
    assert all(p.mode == "up" for p in s.phases) and s.timeline == ({"at_s": 0.0, "mode": "up"},)
    assert {(r.metric, r.op, r.target) for r in s.slos} >= {
        ("attack.suspended", "==", 1), ("attack.distinct_beneficiaries_answered", "<=", 50), ("unexpected", "==", 0)}
