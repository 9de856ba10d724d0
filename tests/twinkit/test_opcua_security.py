"""OPC UA security: an asyncua server started here on 127.0.0.1 offers only Basic256Sha256
SignAndEncrypt and trusts one client certificate (certificates and keys made in a temporary
folder). The twin's OPC UA source connects with that policy, certificate and encrypted key and
a value written on the server arrives as a reading; without security, with another mode, with
an untrusted certificate or against the wrong server certificate the server (or the client)
refuses at once with a message; every bad option is named before anything connects, and no
message or log holds a password or the key."""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from analytic_surrogate import SLAB_CASE, SlabSurrogate
from test_opcua import SENSORS, OpcuaServer, free_port, running, wait_for

from twinkit.case import CaseError, load_case
from twinkit.sensors.opcua import OpcuaSource, ServerConfig, ServerRefused, node_map
from twinkit.sensors.opcua_security import policy_mode, security
from twinkit.twin.live import LiveOptions, LiveTwin
from twinkit.twin.service import serve_twin

asyncua = pytest.importorskip("asyncua")
ua = asyncua.ua
x509 = pytest.importorskip("cryptography.x509")
from asyncua.crypto import cert_gen  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

PASSWORD = "key-pass-9f3"  # the client key's (must never show)
OP_PASSWORD = "op-secret-7c1"  # a user's (must never show)
CLIENT_URI, SERVER_URI = "urn:twinkit:test:client", "urn:twinkit:test:server"


def _pem_key(key, password: str | None = None) -> bytes:
    crypt = (
        serialization.BestAvailableEncryption(password.encode())
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, crypt)


def _app_cert(folder: Path, name: str, uri: str, usage, der: bool = False) -> Path:
    """A key (`name`-key.pem) and a self-signed OPC UA application certificate."""
    key = cert_gen.generate_private_key()
    names = [x509.UniformResourceIdentifier(uri), x509.DNSName("localhost"),
             x509.DNSName(socket.gethostname())]  # fmt: skip
    cert = cert_gen.generate_self_signed_app_certificate(key, name, {}, names, [usage])
    (folder / f"{name}-key.pem").write_bytes(_pem_key(key))
    path = folder / f"{name}.{'der' if der else 'pem'}"
    path.write_bytes(
        cert.public_bytes(serialization.Encoding.DER if der else serialization.Encoding.PEM)
    )
    return path


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    """server.pem, client.der (its key encrypted: client-key-enc.pem), stranger.pem (untrusted),
    a 1024-bit and an EC key, an expired certificate; trusted/ holds the client's."""
    d = tmp_path_factory.mktemp("pki")
    _app_cert(d, "server", SERVER_URI, ExtendedKeyUsageOID.SERVER_AUTH)
    _app_cert(d, "client", CLIENT_URI, ExtendedKeyUsageOID.CLIENT_AUTH, der=True)
    _app_cert(d, "stranger", CLIENT_URI, ExtendedKeyUsageOID.CLIENT_AUTH)
    key = serialization.load_pem_private_key((d / "client-key.pem").read_bytes(), None)
    (d / "client-key-enc.pem").write_bytes(_pem_key(key, PASSWORD))
    (d / "trusted").mkdir()
    (d / "trusted" / "client.der").write_bytes((d / "client.der").read_bytes())
    (d / "small-key.pem").write_bytes(_pem_key(rsa.generate_private_key(65537, 1024)))
    (d / "ec-key.pem").write_bytes(_pem_key(ec.generate_private_key(ec.SECP256R1())))
    now, name = dt.datetime.now(dt.UTC), x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old")])
    old = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
           .public_key(key.public_key()).serial_number(1)
           .not_valid_before(now - dt.timedelta(days=30))
           .not_valid_after(now - dt.timedelta(days=1)).sign(key, hashes.SHA256()))  # fmt: skip
    (d / "old.pem").write_bytes(old.public_bytes(serialization.Encoding.PEM))
    return d


@pytest.fixture
def loaded(tmp_path):
    (tmp_path / "slab.yaml").write_text(SLAB_CASE + SENSORS)
    return load_case(tmp_path / "slab.yaml", check_regions=False)


@pytest.fixture
def server(pki):
    """Only Basic256Sha256 SignAndEncrypt; trusts the certificates in pki/trusted."""
    from asyncua.crypto.truststore import TrustStore
    from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions

    async def setup(server) -> None:
        await server.set_application_uri(SERVER_URI)
        server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
        await server.load_certificate(str(pki / "server.pem"))
        await server.load_private_key(str(pki / "server-key.pem"))
        store = TrustStore([pki / "trusted"], [])
        await store.load()
        check = (
            CertificateValidatorOptions.TRUSTED_VALIDATION | CertificateValidatorOptions.PEER_CLIENT
        )
        server.set_certificate_validator(CertificateValidator(check, store))

    yield from running(OpcuaServer(free_port(), setup=setup))


def client(pki: Path, policy: str = "Basic256Sha256,SignAndEncrypt", **files: str):
    """The client's settings: its certificate and encrypted key, the server's certificate."""
    names = {"cert": "client.der", "key": "client-key-enc.pem", "server_cert": "server.pem"} | files
    paths = {k: pki / v for k, v in names.items()}
    return security(policy, paths["cert"], paths["key"], paths["server_cert"],
                    env={"TWINKIT_OPCUA_KEY_PASSWORD": PASSWORD})  # fmt: skip


@pytest.mark.slow
def test_a_secure_connection_brings_readings(loaded, server, pki, caplog):
    sec = client(pki)
    url = f"opc.tcp://127.0.0.1:{server.port}/"
    cfg = replace(ServerConfig.from_url(url, node_map(loaded), env={}), security=sec)
    got: list[tuple[str, dict]] = []
    source = OpcuaSource(cfg, "slab", lambda topic, p: got.append((topic, json.loads(p))))
    caplog.set_level(logging.INFO)
    try:
        assert source.start(wait=30), source.refused
        assert wait_for(lambda: len(got) >= 6)  # the values at subscription
        server.write("T1", server.t0 + 30, 321.5)
        assert wait_for(
            lambda: ("plant/slab/sensors/T1", 321.5) in [(t, p["value"]) for t, p in got]
        )
    finally:
        source.stop()
    reading = next(p for t, p in got if p["value"] == 321.5)
    assert reading["t"] == pytest.approx(server.t0 + 30) and reading["quality"] == "good"
    assert str(sec) == "Basic256Sha256,SignAndEncrypt" and sec.app_uri == CLIENT_URI
    assert PASSWORD not in caplog.text and "key=" not in repr(cfg)


@pytest.mark.slow
def test_what_the_server_does_not_accept_stops_the_twin_at_once(
    tmp_path, loaded, server, pki, caplog
):
    """Not retried: the twin stops with what was refused; a password in clear is warned of."""
    twin = LiveTwin(loaded, SlabSurrogate(), LiveOptions(max_skew=None, run_dir=tmp_path))
    url = f"opc.tcp://127.0.0.1:{server.port}"
    users = {"TWINKIT_OPCUA_USERNAME": "op", "TWINKIT_OPCUA_PASSWORD": OP_PASSWORD}
    for sec, env, refused in [
        (None, users, r"offers no endpoint None \(it offers Basic256Sha256,SignAndEncrypt\)"),
        (client(pki, "Basic256Sha256,Sign"), {}, "offers no endpoint Basic256Sha256,Sign "),
        (client(pki, cert="stranger.pem", key="stranger-key.pem"), {},
         "BadCertificateUntrusted: it does not accept the client certificate .*stranger.pem"),
        (client(pki, server_cert="stranger.pem"), {},
         "the server's certificate is not --opcua-server-cert .*stranger.pem"),
    ]:  # fmt: skip
        cfg = replace(ServerConfig.from_url(url, node_map(loaded), env=env), security=sec)
        start = time.monotonic()
        with pytest.raises(ServerRefused, match=refused):
            serve_twin(twin, None, threading.Event(), duration=15, opcua=cfg)
        assert time.monotonic() - start < 8
    clear = [r for r in caplog.records if "may travel in clear" in r.getMessage()]
    assert len(clear) == 1 and "Basic256Sha256,SignAndEncrypt" in clear[0].getMessage()
    assert OP_PASSWORD not in caplog.text and PASSWORD not in caplog.text


def test_policy_names():
    assert policy_mode("Basic256Sha256") == ("Basic256Sha256", "SignAndEncrypt")
    assert policy_mode("aes128_sha256_rsaoaep, sign") == ("Aes128_Sha256_RsaOaep", "Sign")
    assert policy_mode("Aes256Sha256RsaPss,SignAndEncrypt") == (
        "Aes256_Sha256_RsaPss",
        "SignAndEncrypt",
    )
    assert (
        policy_mode("http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256,Sign")[1] == "Sign"
    )
    assert policy_mode("None") is None and policy_mode("none,None") is None


B = "Basic256Sha256"


@pytest.mark.parametrize(
    ("policy", "files", "match"),
    [
        ("Basic999,Sign", {}, r"--opcua-security 'Basic999,Sign': expected POLICY,MODE"),
        (f"{B},Encrypt", {}, r"mode 'Encrypt': expected .* Sign or SignAndEncrypt"),
        ("Basic128Rsa15", {}, f"one of None, {B}, Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss"),
        ("None,Sign", {}, "policy None has no mode"),
        (B, {"key": "no.pem"}, r"--opcua-key .*no.pem: cannot read it \(No such file"),
        (B, {"cert": "trusted"}, r"--opcua-cert .*trusted: cannot read it \(Is a directory"),
        (B, {"key": None}, "needs the client's certificate and private key, --opcua-cert"),
        (None, {}, r"--opcua-cert .*client.der: needs a security policy, --opcua-security"),
        (B, {"cert": "client-key.pem"}, "--opcua-cert .*: not an X.509 certificate"),
        (B, {"server_cert": "old.pem"}, "--opcua-server-cert .*old.pem: expired on"),
        (B, {"key": "client.der"}, r"--opcua-key .*client.der: not a private key \(PEM or DER"),
        (B, {"key": "stranger-key.pem"}, "stranger-key.pem: not the key of --opcua-cert .*client"),
        ("Aes256_Sha256_RsaPss", {"key": "small-key.pem"}, "a 1024-bit RSA key; .* 2048 to 4096"),
        (B, {"key": "ec-key.pem"}, "not an RSA key"),
    ],
)
def test_a_bad_option_is_named(pki, policy, files, match):
    names = {"cert": "client.der", "key": "client-key.pem", "server_cert": None} | files
    paths = {k: None if v is None else pki / v for k, v in names.items()}
    with pytest.raises(CaseError, match=match):
        security(policy, paths["cert"], paths["key"], paths["server_cert"], env={})


def test_the_key_password_comes_from_the_environment(pki, tmp_path):
    args = "Basic256Sha256", pki / "client.der", pki / "client-key-enc.pem"
    with pytest.raises(
        CaseError, match="the key is encrypted; set its password in TWINKIT_OPCUA_KEY_PASSWORD"
    ):
        security(*args, env={})
    for env in ({"TWINKIT_OPCUA_KEY_PASSWORD": "wrong-pw-5e"},
                {"TWINKIT_OPCUA_KEY_PASSWORD_FILE": str(tmp_path / "pw")}):  # fmt: skip
        (tmp_path / "pw").write_text("wrong-pw-5e\n")
        with pytest.raises(CaseError, match="cannot decrypt it with the password in") as e:
            security(*args, env=env)
        assert "wrong-pw-5e" not in str(e.value)
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    sec = security(*args, env={"TWINKIT_OPCUA_KEY_PASSWORD_FILE": str(tmp_path / "pw")})
    assert sec is not None and sec.mode == "SignAndEncrypt" and PASSWORD not in repr(sec)


def test_the_command_names_a_bad_security_option(tmp_path, pki, cli, monkeypatch):
    """`twinkit live` exits with code 2 and one message, before it connects."""
    (tmp_path / "slab.yaml").write_text(SLAB_CASE + SENSORS)
    monkeypatch.setenv("TWINKIT_OPCUA_KEY_PASSWORD", "wrong-pw-5e")
    url = "opc.tcp://127.0.0.1:1"
    files = ["--opcua-cert", pki / "client.der", "--opcua-key"]
    for args, said in [
        (["--opcua", url, "--opcua-security", "Basic256,Sign"], "'Basic256,Sign': expected"),
        (["--opcua", url, "--opcua-security", "Basic256Sha256", *files, tmp_path / "no.pem"],
         "--opcua-key {}: cannot read it".format(tmp_path / "no.pem")),
        (["--opcua", url, "--opcua-security", "Basic256Sha256", *files, pki / "client-key-enc.pem"],
         "cannot decrypt it with the password in TWINKIT_OPCUA_KEY_PASSWORD"),
        (["--mqtt", "localhost:1", "--opcua-cert", pki / "client.der"], "needs --opcua opc.tcp://"),
    ]:  # fmt: skip
        r = cli("live", tmp_path / "slab.yaml", *args, "--state", tmp_path / "s.json")
        assert r.returncode == 2 and said in r.stderr, r.output
        assert "Traceback" not in r.output and "wrong-pw-5e" not in r.output
        assert not (tmp_path / "s.json").exists()
