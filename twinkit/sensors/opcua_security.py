"""Security of the live twin's OPC UA connection: a policy and mode, the client's certificate and
private key, and optionally the server's certificate to trust (`--opcua-security`,
`--opcua-cert`, `--opcua-key`, `--opcua-server-cert`).

`security` reads and checks them once, before anything connects: the policy (Basic256Sha256,
Aes128_Sha256_RsaOaep or Aes256_Sha256_RsaPss, with Sign or SignAndEncrypt; None, the default,
for none), the files (PEM or DER, at most 1 MiB), an RSA key of 2048 to 4096 bits that is the
certificate's, and certificates within their validity. An encrypted key's password comes from
`TWINKIT_OPCUA_KEY_PASSWORD` (or `TWINKIT_OPCUA_KEY_PASSWORD_FILE`), never the command line; no
message names it. `secure` applies them to each connection, after checking that the server
offers that endpoint and, when given, that its certificate is the trusted one. Without the
server's certificate the client takes the one the server's endpoint presents, unchecked: the
channel is signed and encrypted, but nothing proves which server it is.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twinkit.case import CaseError
from twinkit.sensors.credentials import env_credentials
from twinkit.sensors.limits import short

log = logging.getLogger("twinkit.sensors.opcua")
URI = "http://opcfoundation.org/UA/SecurityPolicy#"
# the OPC UA name of each policy (its URI's fragment) → asyncua's class
POLICIES = {
    "Basic256Sha256": "SecurityPolicyBasic256Sha256",
    "Aes128_Sha256_RsaOaep": "SecurityPolicyAes128Sha256RsaOaep",
    "Aes256_Sha256_RsaPss": "SecurityPolicyAes256Sha256RsaPss",
}
MODES = ("Sign", "SignAndEncrypt")
KEY_BITS = (2048, 4096)  # the RSA key sizes these policies allow
MAX_FILE = 1024 * 1024  # bytes: a certificate or key file is far smaller
KEY_PASSWORD = "TWINKIT_OPCUA_KEY"  # TWINKIT_OPCUA_KEY_PASSWORD (or _PASSWORD_FILE)
EXPECTED = (
    f"expected POLICY,MODE with POLICY one of None, {', '.join(POLICIES)} and MODE Sign or "
    "SignAndEncrypt, e.g. Basic256Sha256,SignAndEncrypt"
)


class ServerRefused(CaseError):
    """The OPC UA server answered and refused the client or the node map."""


@dataclass(frozen=True)
class Security:
    """What `secure` gives the client: DER bytes, the key unencrypted (kept out of repr)."""

    policy: str  # a key of POLICIES
    mode: str  # Sign or SignAndEncrypt
    cert_path: str
    app_uri: str | None  # the certificate's application URI (subjectAltName URI)
    cert: bytes = field(repr=False)
    key: bytes = field(repr=False)
    server_cert_path: str | None = None
    server_cert: bytes | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return f"{self.policy},{self.mode}"


def _norm(name: str) -> str:
    return name.strip().lower().replace("_", "").replace("-", "")


def policy_mode(text: str) -> tuple[str, str] | None:
    """`POLICY[,MODE]` (MODE by default SignAndEncrypt; names in any case, with or without
    underscores), None for `None`; CaseError naming the option and what is expected."""
    parts = text.split(",")
    names = {_norm(p): p for p in (*POLICIES, "None")}
    policy = names.get(_norm(parts[0].rpartition("#")[2])) if len(parts) <= 2 else None
    if policy is None:
        raise CaseError(f"--opcua-security {short(text)}: {EXPECTED}")
    if policy == "None":
        if len(parts) == 2 and _norm(parts[1]) not in ("", "none"):
            raise CaseError(f"--opcua-security {short(text)}: policy None has no mode; {EXPECTED}")
        return None
    mode = {_norm(m): m for m in MODES}.get(_norm(parts[1])) if len(parts) == 2 else MODES[1]
    if mode is None:
        raise CaseError(f"--opcua-security {short(text)}: mode {short(parts[1])}: {EXPECTED}")
    return policy, mode


def security(
    text: str | None,
    cert: Path | None,
    key: Path | None,
    server_cert: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Security | None:
    """The checked security settings, None for policy None; CaseError naming the option and the
    value. The key's password from `env` (default: the environment)."""
    env = os.environ if env is None else env
    chosen = policy_mode(text) if text is not None else None
    files = {"--opcua-cert": cert, "--opcua-key": key, "--opcua-server-cert": server_cert}
    if chosen is None:
        for option, path in files.items():
            if path is not None:
                raise CaseError(
                    f"{option} {path}: needs a security policy, --opcua-security POLICY,MODE "
                    "(e.g. Basic256Sha256,SignAndEncrypt)"
                )
        return None
    if cert is None or key is None:
        raise CaseError(
            f"--opcua-security {text}: needs the client's certificate and private key, "
            "--opcua-cert FILE and --opcua-key FILE (PEM or DER)"
        )
    from twinkit.extras import require

    require("asyncua", "OPC UA security (twinkit live --opcua-security)")
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    policy, mode = chosen
    c, k = _certificate(cert, "--opcua-cert"), _private_key(key, env)
    where = f"--opcua-key {key}"
    if not KEY_BITS[0] <= k.key_size <= KEY_BITS[1]:
        bits = "{} to {}".format(*KEY_BITS)
        raise CaseError(f"{where}: a {k.key_size}-bit RSA key; {policy} needs {bits} bits")
    spki = Encoding.DER, PublicFormat.SubjectPublicKeyInfo
    if c.public_key().public_bytes(*spki) != k.public_key().public_bytes(*spki):
        raise CaseError(f"{where}: not the key of --opcua-cert {cert} (another key pair)")
    uri = _app_uri(c)
    if uri is None:
        log.warning("--opcua-cert %s has no application URI (subjectAltName URI:...): most "
                    "servers refuse such a certificate", cert)  # fmt: skip
    s = _certificate(server_cert, "--opcua-server-cert") if server_cert is not None else None
    return Security(
        policy, mode, str(cert), uri, c.public_bytes(Encoding.DER),
        k.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption()),
        None if server_cert is None else str(server_cert),
        None if s is None else s.public_bytes(Encoding.DER),
    )  # fmt: skip


def _read(path: Path, option: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE + 1)
    except OSError as e:
        raise CaseError(f"{option} {path}: cannot read it ({e.strerror})") from None
    if len(data) > MAX_FILE:
        raise CaseError(f"{option} {path}: over {MAX_FILE // 1024} KiB, not a certificate or key")
    return data


def _pem(data: bytes) -> bool:
    return data.lstrip().startswith(b"-----BEGIN")


def _certificate(path: Path, option: str) -> Any:
    """An X.509 certificate (PEM or DER) that is valid now."""
    from cryptography import x509

    data = _read(path, option)
    try:
        load = x509.load_pem_x509_certificate if _pem(data) else x509.load_der_x509_certificate
        cert = load(data)
        start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    except ValueError:
        raise CaseError(f"{option} {path}: not an X.509 certificate (PEM or DER)") from None
    now = datetime.now(UTC)
    if not start <= now <= end:
        when = f"expired on {end:%Y-%m-%d}" if now > end else f"valid from {start:%Y-%m-%d} only"
        raise CaseError(f"{option} {path}: {when}; expected a certificate valid now")
    return cert


def _private_key(path: Path, env: Mapping[str, str]) -> Any:
    """An RSA private key (PEM or DER), decrypted with the password from the environment."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    data, where = _read(path, "--opcua-key"), f"--opcua-key {path}"
    pem = _pem(data)
    load = serialization.load_pem_private_key if pem else serialization.load_der_private_key
    var = f"{KEY_PASSWORD}_PASSWORD (or {KEY_PASSWORD}_PASSWORD_FILE)"
    try:
        key = load(data, None)
    except TypeError:  # encrypted
        password = env_credentials(env, KEY_PASSWORD)[1]
        if password is None:
            raise CaseError(f"{where}: the key is encrypted; set its password in {var}") from None
        try:
            key = load(data, password.encode())
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise CaseError(f"{where}: cannot decrypt it with the password in {var}") from None
    except (ValueError, UnsupportedAlgorithm):
        raise CaseError(f"{where}: not a private key (PEM or DER)") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CaseError(f"{where}: not an RSA key; the OPC UA security policies need one")
    return key


def _app_uri(cert: Any) -> str | None:
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    except (x509.ExtensionNotFound, ValueError):
        return None
    return uris[0] if uris else None


async def secure(client: Any, sec: Security | None) -> None:
    """Give the asyncua `client` its security before it connects: ServerRefused when the
    server offers no such endpoint or its certificate is not the trusted one."""
    from asyncua import ua
    from asyncua.crypto import security_policies, uacrypto

    quiet_repeats()
    endpoints = await client.connect_and_get_server_endpoints()
    uri = URI + sec.policy if sec else security_policies.SecurityPolicyNone.URI
    mode = getattr(ua.MessageSecurityMode, sec.mode if sec else "None_")
    offered = [e for e in endpoints if str(e.EndpointUrl).startswith(ua.OPC_TCP_SCHEME)]
    found = [e for e in offered if e.SecurityPolicyUri == uri and e.SecurityMode == mode]
    if not found:
        have = sorted({_endpoint(e) for e in offered}) or ["none"]
        raise ServerRefused(
            f"the server offers no endpoint {sec or 'None'} (it offers {'; '.join(have[:8])}); "
            f"choose one of those with --opcua-security POLICY,MODE"
        )
    if sec is None:
        return
    try:
        der = uacrypto.der_from_x509(uacrypto.x509_from_der(found[0].ServerCertificate))
    except ValueError:
        der = b""
    if not der:
        raise ServerRefused(f"the server's endpoint {sec} has no readable certificate")
    if sec.server_cert is not None and der != sec.server_cert:
        raise ServerRefused(
            f"the server's certificate is not --opcua-server-cert {sec.server_cert_path} "
            "(another server, or it has a new certificate: check it, then give that one)"
        )
    if sec.app_uri:
        client.application_uri = sec.app_uri  # servers check it against the certificate
    policy = getattr(security_policies, POLICIES[sec.policy])
    props = uacrypto.CertProperties
    await client.set_security(policy, props(sec.cert, "der"), props(sec.key, "der"), None,
                              props(der, "der"), mode)  # fmt: skip


def _endpoint(e: Any) -> str:
    policy = str(e.SecurityPolicyUri).rpartition("#")[2][:40]
    try:
        mode = type(e.SecurityMode)(e.SecurityMode).name.rstrip("_")
    except (ValueError, TypeError):
        mode = short(e.SecurityMode)
    return f"{policy},{mode}"


def refusal(name: str, sec: Security | None) -> str:
    """Why the server refused the connection (a status code's name), and what to do."""
    said = f"the server refused the connection: {name}"
    if name.startswith(("BadUser", "BadIdentity")):
        return (f"{said} (user name and password come from TWINKIT_OPCUA_USERNAME and "
                "TWINKIT_OPCUA_PASSWORD or TWINKIT_OPCUA_PASSWORD_FILE)")  # fmt: skip
    if not name.startswith(("BadCertificate", "BadSecurity")):
        return said
    if sec is None:
        return f"{said} (it may need a security policy: --opcua-security POLICY,MODE)"
    return (
        f"{said}: it does not accept the client certificate --opcua-cert {sec.cert_path} with "
        f"{sec}; have the server trust it (e.g. move it from its rejected to its trusted "
        "certificates) and check that it is valid and holds the application URI"
    )


class _Once(logging.Filter):
    """asyncua repeats its certificate checks and warnings at every reconnection: once is
    enough (up to 100 different messages)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[tuple[str, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        key = record.name, record.getMessage()
        if key in self.seen:
            return False
        if len(self.seen) < 100:
            self.seen.add(key)
        return True


def quiet_repeats() -> None:
    """Let each warning of asyncua's client and certificate checks through once."""
    for name in ("asyncua.crypto.uacrypto", "asyncua.client.client"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _Once) for f in logger.filters):
            logger.addFilter(_Once())
