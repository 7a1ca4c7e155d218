"""HTTP as RFC 9110 / 9457 write it, on live platform and gateway processes."""
from __future__ import annotations

import socket

import pytest
import requests

from tests.support.procs import accounts, login, start_gateway, start_platform
from tiers_payant.problems import REGISTRY, problem_type

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("http")
    platform = start_platform(tmp, beneficiaries=2_000, workers=1, env={"SIM_RATE_PER_S": "0"})
    gateway = None
    try:
        gateway = start_gateway(tmp, platform.url, workers=1)
        yield {"platform": platform.url, "gateway": gateway.url, "platform_proc": platform}
    finally:
        if gateway:
            gateway.stop()
        platform.stop()


@pytest.fixture(scope="module")
def token(services):
    a = accounts(services["platform_proc"], 1)[0]
    return login(services["platform"], a["client_id"], a["client_secret"])


def _raw(url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    host, port = url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize("service", ["platform", "gateway"])
def test_a_405_names_the_allowed_methods(services, service):
    r = requests.delete(services[service] + "/v1/eligibility", timeout=5)
    assert r.status_code == 405 and r.headers["Content-Type"].startswith("application/problem+json")
    assert "POST" in [m.strip() for m in r.headers["Allow"].split(",")]
    assert r.json()["code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.parametrize("service", ["platform", "gateway"])
def test_an_over_long_request_line_is_a_414_problem_document(services, service):
    status, headers, body = _raw(services[service], b"GET /v1/pec/" + b"A" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 414 and headers["content-type"] == "application/problem+json"
    assert requests.models.complexjson.loads(body)["code"] == "URI_TOO_LONG"


@pytest.mark.parametrize("service", ["platform", "gateway"])
@pytest.mark.parametrize("headers", [b"X-Big: " + b"a" * 9000 + b"\r\n",
                                     b"".join(b"X-H%d: v\r\n" % i for i in range(120))])
def test_over_large_headers_are_a_431_problem_document(services, service, headers):
    status, got, body = _raw(services[service], b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    assert status == 431 and got["content-type"] == "application/problem+json"
    assert requests.models.complexjson.loads(body)["code"] == "HEADERS_TOO_LARGE"


@pytest.mark.parametrize("service", ["platform", "gateway"])
def test_every_problem_type_resolves_on_the_service_that_answered(services, service):
    base = services[service]
    r = requests.post(base + "/v1/eligibility", json={}, timeout=5)  # 401 without a token
    assert r.json()["type"] == problem_type("UNAUTHORIZED")
    for code in REGISTRY:
        page = requests.get(requests.compat.urljoin(base + "/v1/eligibility", problem_type(code)), timeout=5)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html"), code
        assert code in page.text
    index = requests.get(base + "/problems", timeout=5).text
    assert all(problem_type(c) in index for c in REGISTRY)
    assert requests.get(base + "/problems/no-such-code", timeout=5).status_code == 404


def test_keys_answer_304_to_a_matching_if_none_match(services):
    url = services["platform"] + "/v1/keys"
    first = requests.get(url, timeout=5)
    etag = first.headers["ETag"]
    assert etag.startswith('"') and first.json()["keys"]
    again = requests.get(url, headers={"If-None-Match": etag}, timeout=5)
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag
    assert requests.get(url, headers={"If-None-Match": '"other"'}, timeout=5).status_code == 200


def test_revocations_answer_304_while_the_same_list_is_asked_for(services, token):
    url, auth = services["platform"] + "/v1/revocations", {"Authorization": "Bearer " + token}
    first = requests.get(url, headers=auth, timeout=5)
    etag = first.headers["ETag"]
    assert requests.get(url, headers={**auth, "If-None-Match": etag}, timeout=5).status_code == 304
    assert requests.get(url + "?since=1", headers={**auth, "If-None-Match": etag}, timeout=5).status_code == 200
    assert requests.get(url, headers={"If-None-Match": etag}, timeout=5).status_code == 401  # auth before cache
