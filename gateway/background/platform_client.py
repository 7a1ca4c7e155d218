"""The gateway's own account at the platform, for background work (not professionals' calls).

Client-credentials login as the service account (`GW_CLIENT_ID` / `GW_CLIENT_SECRET`, or
`GW_CLIENT_SECRET_FILE`), token kept until a minute before it expires, re-login once on a
401. Each thread that uses the platform in the background owns one of these
(requests.Session is not shared). Every failure says what it was: `PlatformAnswer` for an
HTTP answer that is not a success (status and problem code kept), `LoginRefused` when the
token endpoint refuses the credentials, which no retry will fix.
"""
from __future__ import annotations

import time

import requests


class PlatformAnswer(Exception):
    """The platform answered, but not with a success."""

    def __init__(self, method: str, path: str, status: int, code: str | None, retry_after: str | None = None) -> None:
        self.method, self.path, self.status, self.code, self.retry_after = method, path, status, code, retry_after
        super().__init__(f"{status} {code or 'error'} from {method} {path}")


class LoginRefused(PlatformAnswer):
    """The token endpoint refused the service account (wrong id or secret, platform of another seed)."""


class NoServiceSecret(LoginRefused):
    """No secret configured for the service account: nothing is sent to the platform."""

    def __init__(self, client_id: str, why: str = "") -> None:
        PlatformAnswer.__init__(self, "POST", "/oauth/token", 0, "no_secret_configured")
        Exception.__init__(self, f"no secret configured for service account {client_id}{why}: set GW_CLIENT_SECRET_FILE "
                                 f"(or --client-secret-file, GW_CLIENT_SECRET); `python -m simulator accounts "
                                 f"--state-dir DIR --service {client_id}` issues one")


def _code(r: requests.Response) -> str | None:
    try:
        doc = r.json()
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    code = doc.get("error") or doc.get("code")  # RFC 6749 error member, else the problem's code
    return str(code)[:60] if code else None


class PlatformClient:
    def __init__(self, settings, read_timeout_s: float = 5.0) -> None:
        self.s = settings
        self.timeout = (settings.connect_timeout_s, read_timeout_s)
        self.session = requests.Session()
        self.session.trust_env = False
        self._token: str | None = None
        self._token_until = 0.0

    def _login(self) -> str:
        if self._token is None or time.monotonic() >= self._token_until:
            try:
                secret = self.s.service_secret()
            except OSError as exc:
                raise NoServiceSecret(self.s.client_id, f" (GW_CLIENT_SECRET_FILE: {exc.strerror})") from None
            if not secret:
                raise NoServiceSecret(self.s.client_id)
            r = self.session.post(self.s.platform_url + "/oauth/token", timeout=self.timeout,
                                  data={"grant_type": "client_credentials", "client_id": self.s.client_id,
                                        "client_secret": secret})
            if r.status_code in (400, 401, 403):
                raise LoginRefused("POST", "/oauth/token", r.status_code, _code(r))
            if r.status_code >= 300:
                raise PlatformAnswer("POST", "/oauth/token", r.status_code, _code(r), r.headers.get("Retry-After"))
            doc = r.json()
            self._token = doc["access_token"]
            self._token_until = time.monotonic() + max(0, int(doc.get("expires_in", 300)) - 60)
        return self._token

    def _request(self, method: str, path: str, auth: bool, **kwargs) -> dict:
        for attempt in (1, 2):
            headers = {"Authorization": "Bearer " + self._login()} if auth else {}
            r = self.session.request(method, self.s.platform_url + path, headers=headers, timeout=self.timeout,
                                     **kwargs)
            if r.status_code == 401 and auth and attempt == 1:
                self._token = None  # platform restarted with new keys, or credentials reset
                continue
            if r.status_code >= 300:
                raise PlatformAnswer(method, path.split("?")[0], r.status_code, _code(r), r.headers.get("Retry-After"))
            doc = r.json()
            if not isinstance(doc, dict):
                raise ValueError("expected a JSON object")
            return doc
        raise AssertionError("unreachable")

    def get_json(self, path: str, auth: bool = True) -> dict:
        return self._request("GET", path, auth)

    def post_json(self, path: str, body: dict) -> dict:
        return self._request("POST", path, True, json=body)

    def healthz(self, timeout_s: float) -> tuple[bool, bool]:
        """(answered well, transport failure): a 5xx is an answer, just not a good one."""
        try:
            r = self.session.get(self.s.platform_url + "/healthz", timeout=(timeout_s, timeout_s))
        except requests.RequestException:
            return False, True
        return r.status_code < 500, False
