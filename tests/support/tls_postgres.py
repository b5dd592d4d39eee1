"""A Postgres that only speaks TLS, with a certificate authority made on the spot, and a
PgBouncer in transaction mode in front of it: what a managed database looks like.

pgserver's binaries are built without OpenSSL, so the server is Debian's Postgres
(``apt-get install postgresql``, which ``make system-deps`` runs) or one on ``PATH``. It runs
in a temporary folder (as pgserver's system user when the tests run as root, since Postgres
and PgBouncer refuse root), listens on 127.0.0.1 and accepts TCP connections only over TLS
(``hostssl`` lines alone in ``pg_hba.conf``). Its certificate names ``localhost`` only, so
``verify-full`` to 127.0.0.1 is a name mismatch.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support.waiting import wait_until_sync

START_TIMEOUT = 120.0  # seconds: generous, the machine may be fully loaded


@dataclass(frozen=True)
class Authority:
    """A certificate authority: its key signs, its certificate file is a client's sslrootcert."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    path: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _validity(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return builder.not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(
        now + datetime.timedelta(days=2)
    )


def make_authority(folder: Path, common_name: str) -> Authority:
    """A self-signed CA whose certificate is written to ``folder/<common_name>.crt``."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    certificate = (
        _validity(x509.CertificateBuilder())
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = folder / f"{common_name}.crt"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return Authority(key, certificate, path)


def issue_server_certificate(authority: Authority, host_name: str) -> tuple[bytes, bytes]:
    """A server certificate for ``host_name`` signed by ``authority``: (cert PEM, key PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        _validity(x509.CertificateBuilder())
        .subject_name(_name(host_name))
        .issuer_name(authority.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host_name)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key()),
            critical=False,
        )
        .sign(authority.key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
        return True
    return False


def postgres_with_tls() -> Path | None:
    """The bin folder of a Postgres built with OpenSSL: Debian's newest, else one on PATH."""
    debian = [
        path.parent
        for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")
        if path.parent.parent.name.isdigit()
    ]
    if debian:
        return max(debian, key=lambda folder: int(folder.parent.name))
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _run(command: list[str], user: str | None) -> None:
    """Run a server command; its output goes into the failure if it fails."""
    done = subprocess.run(
        command, user=user, capture_output=True, text=True, timeout=START_TIMEOUT + 10
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")


def _system_user() -> str | None:
    """The user Postgres and PgBouncer run as: pgserver's own when we are root."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam("pgserver")
    except KeyError:
        subprocess.run(["useradd", "-s", "/bin/bash", "pgserver"], check=True, capture_output=True)
    return "pgserver"


def _give(path: Path, user: str | None, mode: int) -> None:
    path.chmod(mode)
    if user is not None:
        shutil.chown(path, user, user)


PG_HBA = """\
local   all all              trust
hostssl all all 127.0.0.1/32 trust
hostssl all all ::1/128      trust
"""


class TlsPostgres:
    """A Postgres of the test's own that accepts TCP only over TLS; ``stop()`` removes it."""

    def __init__(
        self, bin_folder: Path, authority: Authority | None = None, settings: str = ""
    ) -> None:
        """``authority`` signs the server's certificate (a new one by default); ``settings``
        are extra lines of ``postgresql.conf``."""
        self.bin = bin_folder
        self.user = _system_user()
        self.folder = Path(tempfile.mkdtemp(prefix="ecoute-tls-pg-"))
        self.folder.chmod(0o755)  # the server's user reads the PgBouncer files in here
        self.data = self.folder / "data"
        self.authority = authority or make_authority(self.folder, "ecoute-test-ca")
        self.wrong_authority = make_authority(self.folder, "someone-else-ca")
        self.settings = settings
        self.port = 0
        self._running = False

    def start(self) -> None:
        self.data.mkdir()
        _give(self.data, self.user, 0o700)
        options = ("--auth=trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        _run([str(self.bin / "initdb"), "-D", str(self.data), *options], self.user)
        certificate, key = issue_server_certificate(self.authority, "localhost")
        for name, content in (("server.crt", certificate), ("server.key", key)):
            (self.data / name).write_bytes(content)
            _give(self.data / name, self.user, 0o600)
        (self.data / "pg_hba.conf").write_text(PG_HBA)
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                "\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"
                f"listen_addresses = '127.0.0.1'\nunix_socket_directories = '{self.data}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                f"{self.settings}\n"
            )
        self._start_on_a_free_port()

    def _start_on_a_free_port(self) -> None:
        """Start the server; another process may take the port first, so try a few."""
        log = self.data / "log"
        for attempt in range(3):
            self.port = free_port()
            try:
                wait = ("-w", "-t", str(int(START_TIMEOUT)))
                start = ("-l", str(log), "-o", f"-p {self.port}", "start")
                _run([str(self.bin / "pg_ctl"), "-D", str(self.data), *wait, *start], self.user)
            except RuntimeError as error:
                if attempt == 2:
                    raise RuntimeError(f"{error}\n{log.read_text(errors='replace')}") from None
                continue
            self._running = True
            return

    def url(self, host: str = "localhost", database: str = "postgres", **params: str) -> str:
        """A URL to this server over TCP; ``params`` are its query (``sslmode=…``)."""
        query = "?" + urlencode(params) if params else ""
        return f"postgresql://postgres@{host}:{self.port}/{database}{query}"

    def verified_url(self, database: str = "postgres") -> str:
        """The strictest libpq form: verify-full against the test's CA."""
        return self.url(
            database=database, sslmode="verify-full", sslrootcert=str(self.authority.path)
        )

    def stop(self) -> None:
        if self._running:
            with contextlib.suppress(Exception):
                stop = [str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-m", "immediate"]
                _run([*stop, "stop"], self.user)
            self._running = False
        shutil.rmtree(self.folder, ignore_errors=True)


class PgBouncer:
    """PgBouncer in transaction mode with ONE server connection in front of ``server``, so
    two clients' statements always meet on the same server connection."""

    def __init__(self, server: TlsPostgres, executable: str) -> None:
        self.server = server
        self.executable = executable
        self.folder = Path(tempfile.mkdtemp(prefix="pgbouncer-", dir=server.folder))
        self.port = 0
        self.process: subprocess.Popen[Any] | None = None

    def start(self) -> None:
        _give(self.folder, self.server.user, 0o755)
        (self.folder / "users.txt").write_text('"postgres" ""\n')
        for attempt in range(3):
            self.port = free_port()
            self._write_config()
            self.process = subprocess.Popen(
                [self.executable, str(self.folder / "pgbouncer.ini")],
                user=self.server.user,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                wait_until_sync(
                    lambda: _accepts(self.port) or self._exited(),
                    START_TIMEOUT,
                    "PgBouncer accepts connections",
                )
            except AssertionError:
                self.stop()
                raise
            if not self._exited():
                return
            if attempt == 2:
                log = (self.folder / "pgbouncer.log").read_text(errors="replace")
                raise RuntimeError(f"PgBouncer did not start:\n{log[-2000:]}")

    def _exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def _write_config(self) -> None:
        (self.folder / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={self.server.data} port={self.server.port}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {self.folder / 'users.txt'}\n"
            "pool_mode = transaction\ndefault_pool_size = 2\nmin_pool_size = 0\n"
            "max_client_conn = 200\nignore_startup_parameters = extra_float_digits\n"
            f"logfile = {self.folder / 'pgbouncer.log'}\n"
        )

    def url(self, database: str = "postgres") -> str:
        """A URL through PgBouncer (plain TCP: PgBouncer and the app share a host)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}?sslmode=disable"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)
