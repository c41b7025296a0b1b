import base64

import pytest
from ktp_pipeline.auth import basic_auth_matches

USER, PASSWORD = "ktp-callback", "s3cr:et"


def header(raw: bytes, scheme: str = "Basic") -> str:
    return f"{scheme} {base64.b64encode(raw).decode()}"


def test_exact_pair_matches_even_with_colon_in_password():
    assert basic_auth_matches(header(b"ktp-callback:s3cr:et"), USER, PASSWORD)


def test_scheme_is_case_insensitive():
    assert basic_auth_matches(header(b"ktp-callback:s3cr:et", "basic"), USER, PASSWORD)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "Basic",
        "Basic !!!not-base64!!!",
        header(b"ktp-callback:wrong"),
        header(b"someone:s3cr:et"),
        header(b"ktp-callbacks3cr:et"),  # no separator
        header(b"ktp-callback:s3cr:et", "Bearer"),
        header(b"ktp-callback:s3cr:et "),
    ],
)
def test_everything_else_is_refused(value):
    assert not basic_auth_matches(value, USER, PASSWORD)
