"""`GET /v1/identity` on the control port: who this is, and a proof that it knows the admin
token, for a client that must not send the token to a stranger (loadtests.trust)."""
import requests

from loadtests.trust import prove_platform
from simulator.control import identity_proof
from tests.support.procs import ADMIN_TOKEN, start_platform


def test_the_control_api_proves_it_knows_the_token_without_receiving_it(tmp_path):
    platform = start_platform(tmp_path, beneficiaries=2000)
    try:
        control, port = platform.extra["control"], platform.extra["port"]
        r = requests.get(control + "/v1/identity", params={"nonce": "a" * 32}, timeout=5)  # no Authorization
        assert r.status_code == 200
        body = r.json()
        assert body["product"] == "tiers-payant-sim" and body["platform_port"] == port
        assert body["proof"] == identity_proof(ADMIN_TOKEN, "a" * 32, port) != identity_proof("x", "a" * 32, port)
        assert requests.get(control + "/v1/identity", params={"nonce": "short"}, timeout=5).status_code == 422
        assert requests.get(control + "/v1/faults", timeout=5).status_code == 401  # the rest still needs the token
        assert requests.get(platform.url + "/v1/identity", params={"nonce": "a" * 32}, timeout=5).status_code == 404
        assert prove_platform(control, port, ADMIN_TOKEN) is None
        assert "does not accept" in prove_platform(control, port, "wrong")
        assert "port" in prove_platform(control, port + 1, ADMIN_TOKEN)
    finally:
        platform.stop()
