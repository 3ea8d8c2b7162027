from src.auth.passwords import hash_password


def test_hash_roundtrip():
    assert hash_password("secret") != hash_password("secret")
