"""What the runner hands to Locust: credentials in one variable, tokens only while fresh."""
from __future__ import annotations

from loadtests.sandbox import ENV_BYTES, Credentials, credentials_env, credentials_from_env


def shop(i: int, token: str | None = "t" * 450, until: float = 2000.0) -> Credentials:
    return Credentials(f"opt-{i:06d}", "s" * 43, "28", "1" * 11, token, until)


def test_credentials_round_trip_and_a_token_is_used_only_with_a_minute_to_spare():
    back = credentials_from_env(credentials_env([shop(0), shop(1, None, 0.0)]))
    assert back == [shop(0), shop(1, None, 0.0)]
    assert back[0].fresh_token(1939.0) == "t" * 450 and back[0].fresh_token(1941.0) is None
    assert back[1].fresh_token(0.0) is None and credentials_from_env({}) == []


def test_too_many_tokens_for_one_variable_are_left_out_not_the_accounts():
    many = [shop(i) for i in range(300)]  # about 600 bytes each with a token: over ENV_BYTES
    value = credentials_env(many)["LOADTESTS_CREDENTIALS"]
    assert len(value) <= ENV_BYTES
    back = credentials_from_env({"LOADTESTS_CREDENTIALS": value})
    assert len(back) == 300 and all(c.token is None and c.client_secret for c in back)
