"""Constants the tests share (importable from any test folder)."""

PASSWORD = "correct-horse-battery"

TEST_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key",
    "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    "BASE_URL": "http://greenpoints.test",
}
