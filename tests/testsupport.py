"""Constants the tests share (importable from any test folder)."""

PASSWORD = "correct-horse-battery"

TEST_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key",
    "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    "BASE_URL": "http://greenpoints.test",
}


def csrf_token(client) -> str:
    """Return the CSRF token that a page would have put in this client's forms.

    Mirrors Flask-WTF: a raw token kept in the session, signed with the app's secret
    key. Page tests post it as the form field ``csrf_token``.
    """
    import hashlib
    import os

    from itsdangerous import URLSafeTimedSerializer

    with client.session_transaction() as session:
        raw = session.get("csrf_token")
        if raw is None:
            raw = session["csrf_token"] = hashlib.sha1(os.urandom(64)).hexdigest()
    serializer = URLSafeTimedSerializer(client.application.secret_key, salt="wtf-csrf-token")
    return serializer.dumps(raw)
