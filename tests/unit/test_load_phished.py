"""The phished-account scenario without Locust: its `attack` section, its gate (with the
offline attacks' figures: tests/unit/test_load_intruders.py), its hooks and the intruder's
guesses, on hand-made samples and captures."""
import dataclasses
import random
import time
from datetime import date

from loadtests.capture import write_capture
from loadtests.collect import RunState
from loadtests.run import summarize
from loadtests.samples import Sample
from loadtests.scenarios import load
from loadtests.scenarios import phished_account as pa
from loadtests.slo import Slo
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


def offline_day(forged_reason="CARD_SIGNATURE_INVALID"):
    """The other intruders, as they should fare: the prober refused offline past its limits
    (all 16 of its offline lookups counted by the platform), the stolen token answered before
    the reset at 42 s and refused after it (online, then in `recut`), 20 forged PECs declined."""
    def one(op, t, mode="offline", decision="not_eligible", status=200, reason="BENEFICIARY_NOT_ON_CARD"):
        return Sample(t, op, mode, decision, status, 9.0, True, reason)
    samples = [one(pa.OFFLINE_PROBE, 17 + i * 0.1) for i in range(10)]
    samples += [one(pa.OFFLINE_PROBE, 18 + i * 0.1, reason="OFFLINE_ACCOUNT_LIMIT") for i in range(6)]
    samples += [one(pa.STOLEN, 31 + i, "online", "eligible", reason="") for i in range(11)]
    samples += [one(pa.STOLEN, t, "none", "problem", 401, "UNAUTHORIZED") for t in (42.3, 45, 50, 55)]
    decision = "accepted" if forged_reason.startswith("AMC ") else "refused"
    samples += [one(pa.FORGED, 17 + i / 4, decision=decision, reason=forged_reason) for i in range(20)]
    prober = {"client_id": "opt-000996", "suspended": False, "lookups": 16, "probes": 10}
    return samples, {"accounts": {pa.OFFLINE_PROBE: prober}, "reset": {"after_s": 42.0, "token_obtained": True}}


def _run_folder(tmp_path, attacker_samples, capture_account, hurt_shops=0, day=None):
    """A capture as the master leaves it: shops all along, the intruders, their account reports."""
    more, captured = day or offline_day()
    state = RunState(scenario=load("phished-account"), t0=T0)
    state.samples = [shop(t / 10, ok=t >= 3 * hurt_shops) for t in range(0, 400, 3)]
    state.samples = [dataclasses.replace(s, t_s=T0 + s.t_s) for s in state.samples + attacker_samples + more]
    state.status = {"journal": {"recorded": 0, "drained": 0, "pending": 0}}
    write_capture(tmp_path, state, resilience="full", duration_option="",
                  scenario_capture={"account": capture_account, **captured})
    return len(state.samples) - len(attacker_samples) - len(more)


def test_the_gate_passes_when_the_intruder_is_caught_and_shops_are_served(tmp_path):
    samples, capture = caught_after(12.0)
    samples.append(refused(13.0, "INTERNAL_ERROR", 500))  # the intruder's own trouble is not the shops'
    shops = _run_folder(tmp_path, samples, capture["scenario_capture"]["account"])
    summary = summarize(tmp_path, load("phished-account"), "full")
    assert summary["slo_pass"], [r for r in summary["slos"] if not r["pass"]]
    assert summary["requests"] == shops and summary["unexpected"] == 0  # the intruders' samples are apart
    assert summary["attack"]["requests"] == len(samples)
    assert summary["attack"]["suspended_after_s"] == 12.0
    assert summary["attack_offline"]["undetected"] == 0 and summary["attack_offline"]["refused_offline"] == 6
    assert summary["attack_stolen"]["offline_refused"] == 2 and summary["attack_stolen"]["online_refused"] == 2
    assert summary["attack_forged"]["declined_signature"] == 20 and summary["attack_forged"]["committed_eur"] == "0.00"


def test_the_printed_verdict_tells_each_attack(tmp_path):
    from loadtests.run import verdict_lines
    samples, capture = caught_after(12.0)
    _run_folder(tmp_path, samples, capture["scenario_capture"]["account"])
    text = "\n".join(verdict_lines(summarize(tmp_path, load("phished-account"), "full")))
    assert "offline prober: 16 offline answers, 10 about a person, 6 OFFLINE_ACCOUNT_LIMIT; 16 reached" in text
    assert "stolen token: 11 answers before the reset; after it 0 online / 0 offline answers" in text
    assert "forged cards: 20 hearing-aid PECs offline, 0 accepted, 20 declined CARD_SIGNATURE_INVALID, 0.00 EUR" in text


def test_the_gate_fails_on_euros_committed_on_forged_cards(tmp_path):
    samples, capture = caught_after(12.0)
    _run_folder(tmp_path, samples, capture["scenario_capture"]["account"], day=offline_day("AMC 1460.00"))
    summary = summarize(tmp_path, load("phished-account"), "full")
    failed = {r["metric"]: r["actual"] for r in summary["slos"] if not r["pass"]}
    assert failed == {"attack_forged.committed_eur": 29200.0}  # 20 accepted hearing aids at 1,460 € each


def test_the_gate_fails_when_the_old_token_still_works_or_offline_probes_go_unseen(tmp_path):
    samples, capture = caught_after(12.0)
    more, captured = offline_day()
    more.append(Sample(52.0, pa.STOLEN, "offline", "eligible", 200, 8.0, True, ""))  # the old token, offline
    captured["accounts"][pa.OFFLINE_PROBE]["lookups"] = 0  # the replay never reached the platform
    _run_folder(tmp_path, samples, capture["scenario_capture"]["account"], day=(more, captured))
    summary = summarize(tmp_path, load("phished-account"), "full")
    failed = {r["metric"]: r["actual"] for r in summary["slos"] if not r["pass"]}
    assert failed == {"attack_stolen.offline_accepted_after_reset": 1, "attack_offline.undetected": 16}


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


class Reply:
    def __init__(self, doc, status_code=200):
        self.doc, self.status_code = doc, status_code

    def raise_for_status(self):
        return None

    def json(self):
        return self.doc


def test_the_hooks_reenable_steal_a_token_schedule_the_reset_then_read_the_accounts():
    from loadtests.sandbox import Credentials
    calls, scheduled, logins = [], [], []
    ids = ("opt-000998", "opt-000996", "aud-000997", "aud-000999")
    issued = [Credentials(c, f"secret-{c}", "28" if c.startswith("opt") else "26", "10000000000") for c in ids]

    def control(method, path, **kw):
        calls.append((method, path))
        if path.endswith("/reset-credentials"):
            return Reply({"client_id": "aud-000999", "client_secret": "fresh", "credential_version": 3})
        return Reply({**account(T0 + 5), "alerts": [{"kind": "account_suspended"}]})

    def post(url, data, timeout):
        logins.append((url, data["client_id"], data["client_secret"]))
        return Reply({"access_token": "stolen.jwt.token"})

    state = RunState(scenario=load("phished-account"), t0=time.time(), login_url="http://platform")
    shared = pa.on_test_start(control, state, lambda delay, fn: scheduled.append((delay, fn)), post, issued)
    assert calls == [("POST", f"/v1/accounts/{c}/enable") for c in ids]
    assert logins == [("http://platform/oauth/token", "aud-000999", "secret-aud-000999")]
    assert shared == {"stolen_token": "stolen.jwt.token"}  # the thief user gets the token, never the secret
    (delay, fn), = scheduled
    assert 41 < delay <= 42  # the start of `reset`: opening 6 + attack 10 + offline 14 + return 12
    fn()
    assert calls[-1] == ("POST", "/v1/accounts/aud-000999/reset-credentials")
    captured = pa.on_test_stop(control)
    assert captured["reset"]["token_obtained"] is True and captured["reset"]["status"] == 200
    assert captured["reset"]["credential_version"] == 3 and 0 <= captured["reset"]["after_s"] < 5
    assert captured["account"]["suspended_at"] == T0 + 5 and "alerts" not in captured["account"]
    assert set(captured["accounts"]) == {pa.ATTACK, pa.OFFLINE_PROBE, pa.FORGED, pa.STOLEN}


def test_without_the_thiefs_credentials_there_is_no_stolen_token():
    state = RunState(scenario=load("phished-account"), t0=time.time(), login_url="http://platform")
    assert pa.on_test_start(lambda *a, **k: Reply({}), state, lambda *a: None, None, []) == {}
    assert pa._RESET["token_obtained"] is False  # accepted_before_reset stays 0: the gate fails


def test_the_intruder_never_repeats_a_plausible_identity():
    rng, seen = random.Random(7), set()
    identities = [pa.random_identity(rng, seen) for _ in range(2000)]
    assert len({(i["nir"], i["birth_date"]) for i in identities}) == 2000
    for i in identities:
        born = date.fromisoformat(i["birth_date"])
        assert is_valid_nir(i["nir"]) and i["birth_rank"] == 1
        assert i["nir"][1:5] == f"{born.year % 100:02d}{born.month:02d}"  # the NIR agrees with the birth date


def test_the_scenario_tells_its_story_and_keeps_its_intruders_apart():
    s = load("phished-account")
    assert "Phases" in s.story and "SLOs" in s.story and all(p.name in s.story for p in s.phases)
    assert s.apart == (pa.ATTACK, pa.OFFLINE_PROBE, pa.STOLEN, pa.FORGED) and ID == "opt-000998"
    assert all(s.users[u] == 1 for u in ("Attacker", "OfflineProber", "Forger", "TokenThief"))
    assert [step["mode"] for step in s.timeline] == ["up", "down", "up", "down", "up"]  # two cuts
    assert s.duration_s <= 90
    for field in [*pa.EXTRA_METRICS, *pa.SLOS]:  # every figure and objective is documented
        assert (field.metric if isinstance(field, Slo) else field).split(".")[-1] in s.story
    assert {(r.metric, r.op, r.target) for r in s.slos} >= {
        ("attack.suspended", "==", 1), ("attack.distinct_beneficiaries_answered", "<=", 50), ("unexpected", "==", 0),
        ("attack_forged.committed_eur", "==", 0), ("attack_stolen.offline_accepted_after_reset", "==", 0),
        ("attack_offline.undetected", "==", 0)}


def test_the_reset_phase_outlasts_the_gateways_refresh_interval():
    """The old token must be refused offline in `recut`: the gateway had a refresh in `reset`."""
    from gateway.settings import Settings
    reset = next(p for p in load("phished-account").phases if p.name == pa.RESET_PHASE)
    assert reset.duration_s > Settings().refresh_interval_s + 2


def test_loading_the_scenario_imports_no_intruder_nor_locust():
    import subprocess
    import sys
    code = ("import sys, loadtests.scenarios.phished_account; "
            "assert not {'locust', 'gevent', 'loadtests.attacker', 'loadtests.attacker_offline'} & set(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)
