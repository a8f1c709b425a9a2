"""Authentication and TLS of the Flight server, with certificates made in the test."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import logging

import numpy as np
import pyarrow as pa
import pyarrow.flight as flight
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import tsengine
from tsengine.flight import AuthError, RequestError, ServerError
from tsengine.flight.auth import Authenticator, load_tokens, load_users
from tsengine.flight.lifecycle import is_loopback

TOKEN = "a-long-enough-test-token-0123456789"
OTHER = "another-token-that-is-not-accepted"


# -- certificates ----------------------------------------------------------------------


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert(subject: str, key, issuer_name, issuer_key, *, ca=False, server=False):
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        names = [
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]
        builder = builder.add_extension(
            x509.SubjectAlternativeName(names), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki():
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM."""
    ca_key = _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tsengine test CA")])
    ca = _cert("tsengine test CA", ca_key, ca_name, ca_key, ca=True)
    server_key, client_key = _key(), _key()
    server = _cert("localhost", server_key, ca_name, ca_key, server=True)
    client = _cert("twin-client", client_key, ca_name, ca_key)
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM)  # noqa: E731
    # a second, unrelated CA: its certificates must be refused
    rogue_key = _key()
    rogue_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rogue CA")])
    rogue_ca = _cert("rogue CA", rogue_key, rogue_name, rogue_key, ca=True)
    rogue_client_key = _key()
    rogue_client = _cert("rogue", rogue_client_key, rogue_name, rogue_key)
    return {
        "ca": pem(ca),
        "server_cert": pem(server),
        "server_key": _pem_key(server_key),
        "client_cert": pem(client),
        "client_key": _pem_key(client_key),
        "rogue_ca": pem(rogue_ca),
        "rogue_cert": pem(rogue_client),
        "rogue_key": _pem_key(rogue_client_key),
    }


@pytest.fixture
def engine():
    eng = tsengine.Engine()
    eng.write("pump", {"time": np.arange(5), "asset": ["A"] * 5, "v": np.arange(5.0)})
    yield eng
    eng.close()


def _health(client, options=None) -> dict:
    action = flight.Action("health", b"")
    results = list(client.do_action(action, options or flight.FlightCallOptions()))
    return json.loads(results[0].body.to_pybytes())


def _bearer(token: str) -> flight.FlightCallOptions:
    return flight.FlightCallOptions(
        headers=[(b"authorization", f"Bearer {token}".encode())]
    )


# -- bearer tokens ---------------------------------------------------------------------


def test_token_required_and_checked(engine, caplog):
    caplog.set_level(logging.INFO, logger="tsengine.flight")
    server = tsengine.serve(engine, "grpc://127.0.0.1:0", tokens=[TOKEN])
    raw = flight.connect(f"grpc://127.0.0.1:{server.port}")
    try:
        with pytest.raises(flight.FlightUnauthenticatedError, match="no authorization"):
            _health(raw)
        with pytest.raises(flight.FlightUnauthenticatedError, match="not accepted"):
            _health(raw, _bearer(OTHER))
        with pytest.raises(flight.FlightUnauthenticatedError):
            raw.do_get(flight.Ticket(b'{"kind":"catalog"}'), _bearer(OTHER)).read_all()
        # the server is still healthy for a client with the right token
        assert _health(raw, _bearer(TOKEN))["status"] == "ok"
        got = raw.do_get(
            flight.Ticket(b'{"kind":"read","table":"pump"}'), _bearer(TOKEN)
        )
        assert got.read_all().num_rows == 5
        assert server.counters()["auth_failures"] == 3
    finally:
        raw.close()
        server.shutdown()
    text = caplog.text
    assert "authentication failed" in text
    assert TOKEN not in text and OTHER not in text
    assert "auth: bearer tokens (1 static" in text


def test_tokens_from_file_and_environment(engine, tmp_path, monkeypatch):
    path = tmp_path / "tokens"
    path.write_text(f"# plant tokens\n{TOKEN}  # dashboard\n\n")
    monkeypatch.setenv("TS_TEST_TOKENS", f"{OTHER}, third-token-for-the-twin-xx")
    found = load_tokens(token_file=path, token_env="TS_TEST_TOKENS")
    assert found == [TOKEN, OTHER, "third-token-for-the-twin-xx"]
    server = tsengine.serve(
        engine, "grpc://127.0.0.1:0", token_file=path, token_env="TS_TEST_TOKENS"
    )
    try:
        for token in found:
            client = tsengine.connect(f"grpc://127.0.0.1:{server.port}", token=token)
            assert client.read("pump").num_rows == 5
            client.close()
        bad = tsengine.connect(f"grpc://127.0.0.1:{server.port}", token="x" * 20)
        with pytest.raises(AuthError, match="not accepted"):
            bad.read("pump")
        bad.close()
    finally:
        server.shutdown()


def test_short_tokens_and_passwords_refused_without_echo(tmp_path):
    path = tmp_path / "tokens"
    path.write_text("short\n")
    with pytest.raises(RequestError, match="line 1 of .* is 5 characters") as info:
        load_tokens(token_file=path)
    assert "short" not in str(info.value).split("characters")[0].split("of")[0]
    with pytest.raises(RequestError, match="password of user 'op'"):
        Authenticator(users={"op": "pw"})


def test_basic_login_exchanged_for_token(engine, tmp_path):
    users_file = tmp_path / "users"
    users_file.write_text("operator:correct horse battery staple\n")
    users = load_users(users_file)
    server = tsengine.serve(engine, "grpc://127.0.0.1:0", users=users)
    url = f"grpc://127.0.0.1:{server.port}"
    raw = flight.connect(url)
    try:
        header = raw.authenticate_basic_token(
            "operator", "correct horse battery staple"
        )
        assert header[0] == b"authorization" and header[1].startswith(b"Bearer ")
        options = flight.FlightCallOptions(headers=[header])
        assert _health(raw, options)["status"] == "ok"
        with pytest.raises(flight.FlightUnauthenticatedError, match="refused"):
            raw.authenticate_basic_token("operator", "wrong password, long enough")
        with pytest.raises(flight.FlightUnauthenticatedError):
            raw.authenticate_basic_token("nobody", "correct horse battery staple")
        garbage = [(b"authorization", b"Basic !!!not-base64!!!")]
        with pytest.raises(flight.FlightUnauthenticatedError, match="base64"):
            _health(raw, flight.FlightCallOptions(headers=garbage))
        encoded = base64.b64encode(b"no-colon-here").decode()
        with pytest.raises(flight.FlightUnauthenticatedError, match="user:password"):
            _health(
                raw,
                flight.FlightCallOptions(
                    headers=[(b"authorization", f"Basic {encoded}".encode())]
                ),
            )
        client = tsengine.connect(
            url, username="operator", password="correct horse battery staple"
        )
        assert client.latest("pump").column("v").to_pylist() == [4.0]
        client.close()
        with pytest.raises(AuthError):
            tsengine.connect(url, username="operator", password="not the password!!")
    finally:
        raw.close()
        server.shutdown()


def test_issued_tokens_expire():
    auth = Authenticator(users={"op": "a-password-long-enough"}, issued_seconds=0)
    token = auth.login("op", "a-password-long-enough")
    assert token is not None
    assert auth.check_token(token) is None
    auth = Authenticator(users={"op": "a-password-long-enough"})
    token = auth.login("op", "a-password-long-enough")
    assert auth.check_token(token) == "op"
    assert auth.login("op", "wrong-password-long-enough") is None


# -- binding -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("plant-gateway", False),
    ],
)
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_refuses_open_bind_without_auth(engine):
    with pytest.raises(
        RequestError, match=r"refusing to serve on 0\.0\.0\.0:0.*insecure"
    ):
        tsengine.serve(engine, "grpc://0.0.0.0:0")
    with pytest.raises(RequestError, match="refusing"):
        tsengine.serve(engine, "grpc://[::]:0")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tls_cert": b"-----BEGIN CERTIFICATE-----"}, "both a certificate"),
        ({"tls_ca": b"-----BEGIN CERTIFICATE-----"}, "mutual TLS"),
        ({"tls_cert": "/nonexistent/cert.pem", "tls_key": "/x"}, "cannot read"),
    ],
)
def test_bad_tls_options(engine, kwargs, message):
    with pytest.raises(RequestError, match=message):
        tsengine.serve(engine, "grpc://127.0.0.1:0", **kwargs)


def test_bad_locations(engine):
    for location in [
        "http://127.0.0.1:1",
        "grpc://127.0.0.1",
        "grpc://:80",
        "nonsense",
    ]:
        with pytest.raises(RequestError, match="location"):
            tsengine.serve(engine, location)
    with pytest.raises(RequestError, match="asks for TLS"):
        tsengine.serve(engine, "grpc+tls://127.0.0.1:0")


# -- TLS -------------------------------------------------------------------------------


def test_tls(engine, pki):
    server = tsengine.serve(
        engine,
        "grpc://127.0.0.1:0",
        tls_cert=pki["server_cert"],
        tls_key=pki["server_key"],
        tokens=[TOKEN],
    )
    url = f"grpc+tls://127.0.0.1:{server.port}"
    try:
        assert server.location.startswith("grpc+tls://")
        raw = flight.FlightClient(url, tls_root_certs=pki["ca"])
        assert _health(raw, _bearer(TOKEN))["status"] == "ok"
        raw.close()
        # a client that does not trust the CA cannot talk to the server
        untrusting = flight.FlightClient(url, tls_root_certs=pki["rogue_ca"])
        with pytest.raises(flight.FlightUnavailableError):
            _health(untrusting, _bearer(TOKEN))
        untrusting.close()
        # nor can a plaintext client
        plain = flight.FlightClient(f"grpc://127.0.0.1:{server.port}")
        with pytest.raises(flight.FlightUnavailableError):
            _health(plain, _bearer(TOKEN))
        plain.close()
        client = tsengine.connect(url, token=TOKEN, tls_root_certs=pki["ca"])
        assert client.read("pump").num_rows == 5
        client.close()
        no_ca = tsengine.connect(url, token=TOKEN)
        with pytest.raises(ServerError):
            no_ca.read("pump")
        no_ca.close()
    finally:
        server.shutdown()


def test_mutual_tls(engine, pki, tmp_path):
    # files on disk this time, as the CLI passes them
    for name in ("ca", "server_cert", "server_key"):
        (tmp_path / name).write_bytes(pki[name])
    server = tsengine.serve(
        engine,
        "grpc://127.0.0.1:0",
        tls_cert=tmp_path / "server_cert",
        tls_key=tmp_path / "server_key",
        tls_ca=tmp_path / "ca",
    )
    url = f"grpc+tls://127.0.0.1:{server.port}"
    try:
        raw = flight.FlightClient(
            url,
            tls_root_certs=pki["ca"],
            cert_chain=pki["client_cert"],
            private_key=pki["client_key"],
        )
        got = raw.do_get(flight.Ticket(b'{"kind":"latest","table":"pump"}')).read_all()
        assert got.column("v").to_pylist() == [4.0]
        raw.close()
        for cert, key in [(None, None), (pki["rogue_cert"], pki["rogue_key"])]:
            extra = {} if cert is None else {"cert_chain": cert, "private_key": key}
            refused = flight.FlightClient(url, tls_root_certs=pki["ca"], **extra)
            with pytest.raises(flight.FlightUnavailableError):
                _health(refused)
            refused.close()
        client = tsengine.connect(
            url,
            tls_root_certs=pki["ca"],
            cert_chain=pki["client_cert"],
            private_key=pki["client_key"],
        )
        assert client.write("pump", {"time": [9], "asset": ["A"], "v": [9.0]}) == 1
        assert client.latest("pump").column("v").to_pylist() == [9.0]
        client.close()
    finally:
        server.shutdown()
    # mutual TLS counts as authentication: a wider bind would be allowed
    assert engine.read("pump").num_rows == 6


def test_unauthenticated_put_stores_nothing(engine):
    server = tsengine.serve(engine, "grpc://127.0.0.1:0", tokens=[TOKEN])
    raw = flight.connect(f"grpc://127.0.0.1:{server.port}")
    data = pa.table({"time": [100], "asset": ["A"], "v": [1.0]})
    try:
        with pytest.raises(flight.FlightUnauthenticatedError):
            writer, _ = raw.do_put(
                flight.FlightDescriptor.for_path("pump"), data.schema
            )
            writer.write_table(data)
            writer.close()
    finally:
        raw.close()
        server.shutdown()
    assert engine.read("pump").num_rows == 5
