"""PostgreSQL goes away and comes back: 503 while it is gone, served again after.

The app reaches PostgreSQL through a small TCP relay that the test can cut and
restore, so the outage is real for the app without stopping the shared server.
"""

import socket
import threading

import pytest
from sqlalchemy import make_url
from testsupport import TEST_CONFIG

from app import create_app


class Relay:
    """Forward 127.0.0.1:<port> to PostgreSQL; cut() drops every connection."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = True
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            server = socket.create_connection(self.target, timeout=5)
            with self.lock:
                self.sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.close()
                except OSError:
                    pass

    def cut(self):
        self.open = False
        with self.lock:
            for end in self.sockets:
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.sockets.clear()

    def restore(self):
        self.open = True

    def close(self):
        self.cut()
        self.listener.close()


@pytest.fixture
def relayed(postgres_url):
    """An app that reaches the test run's PostgreSQL only through a relay."""
    url = make_url(postgres_url)
    relay = Relay((url.host or "127.0.0.1", url.port or 5432))
    through = url.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
    app = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": through})
    yield app, relay
    with app.app_context():
        from app.db import db

        db.engine.dispose()
    relay.close()


def test_postgresql_going_away_answers_503_and_the_app_recovers_by_itself(relayed):
    app, relay = relayed
    client = app.test_client()
    stranger = {"Authorization": "Bearer not-a-token"}
    assert client.get("/healthz").status_code == 200  # the pool now holds a connection
    assert client.get("/api/v1/grids", headers=stranger).status_code == 401

    relay.cut()
    assert client.get("/healthz").status_code == 503
    down = client.get("/api/v1/grids", headers=stranger)
    assert down.status_code == 503
    assert down.json["code"] == "unavailable"

    relay.restore()
    assert client.get("/healthz").status_code == 200
    assert client.get("/api/v1/grids", headers=stranger).status_code == 401
