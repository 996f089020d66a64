"""The Python client over TLS 1.3 (issue 25): a daemon whose TCP listener has a certificate from a
test CA made here with the openssl command; the client trusts that CA, authenticates with a client
certificate naming its tenant, and values cross intact. A client trusting another CA is refused
with an error that names the certificate."""

import subprocess

import pytest

import kvtier
from daemon import Daemon, kvtier_bin, serve_available
from test_client import keys

TENANT = "alice"
TENANT_TOKEN = "alice-token-0123456789"


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_ca(d, name):
    key, cert = d / f"{name}.key", d / f"{name}.pem"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", f"/CN={name}")
    return key, cert


def issue(d, ca, name, san=None):
    """A certificate for CN=name signed by ca (key, cert); san: subjectAltName for a server."""
    key, csr, cert = d / f"{name}.key", d / f"{name}.csr", d / f"{name}.pem"
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={name}")
    ext = d / f"{name}.ext"
    ext.write_text(f"subjectAltName={san}\n" if san else "basicConstraints=CA:FALSE\n")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca[1]), "-CAkey", str(ca[0]),
            "-CAcreateserial", "-out", str(cert), "-days", "1", "-extfile", str(ext))
    return key, cert


@pytest.fixture(scope="module")
def tls_daemon(tmp_path_factory):
    binary = kvtier_bin()
    if not serve_available(binary):
        pytest.skip(f"{binary} has no `serve` subcommand")
    pki = tmp_path_factory.mktemp("pki")
    ca = make_ca(pki, "test-ca")
    other_ca = make_ca(pki, "other-ca")
    server = issue(pki, ca, "kvtierd", san="IP:127.0.0.1")
    client = issue(pki, ca, TENANT)
    extra = (f'[server]\ntls_cert_file = "{server[1]}"\ntls_key_file = "{server[0]}"\n'
             f'tls_client_ca_file = "{ca[1]}"\n'
             f'[[tenants]]\nname = "{TENANT}"\ntoken = "{TENANT_TOKEN}"\n'
             f'tls_client_name = "{TENANT}"\n')
    d = Daemon(binary, tmp_path_factory.mktemp("kvtierd-tls"), extra_config=extra)
    d.pki = {"ca": ca[1], "other_ca": other_ca[1], "client": client}
    yield d
    code = d.stop()
    assert code == 0, f"kvtier serve exited with {code} after SIGTERM:\n{d.log()}"


def tls_address(d):
    return "tls:" + d.tcp_address[len("tcp:"):]


def test_a_client_certificate_names_the_tenant_and_values_cross_intact(tls_daemon):
    key, cert = tls_daemon.pki["client"]
    with kvtier.Client(tls_address(tls_daemon), timeout_ms=5000, tls_ca_file=str(tls_daemon.pki["ca"]),
                       tls_cert_file=str(cert), tls_key_file=str(key)) as c:
        assert c.server_info.tenant == TENANT
        (k,) = keys("tls", 1)
        value = bytes(range(256)) * 1000
        c.put(k, value)
        assert c.get(k) == value


def test_a_token_over_tls_without_a_client_certificate(tls_daemon):
    with kvtier.Client(tls_address(tls_daemon), TENANT_TOKEN, timeout_ms=5000,
                       tls_ca_file=str(tls_daemon.pki["ca"])) as c:
        assert c.server_info.tenant == TENANT
        c.ping(b"over tls")


def test_trusting_another_ca_is_refused_and_says_why(tls_daemon):
    with pytest.raises(kvtier.Error) as e:
        kvtier.Client(tls_address(tls_daemon), TENANT_TOKEN, timeout_ms=5000,
                      tls_ca_file=str(tls_daemon.pki["other_ca"]))
    assert "certificate" in str(e.value)


def test_plaintext_to_the_tls_port_fails(tls_daemon):
    with pytest.raises(kvtier.Error):
        kvtier.Client(tls_daemon.tcp_address, TENANT_TOKEN, timeout_ms=5000)


def test_tls_files_for_a_plaintext_address_are_refused(tls_daemon):
    """Whoever gives a CA expects TLS: the client refuses to send the token in clear."""
    with pytest.raises(kvtier.InvalidArgumentError) as e:
        kvtier.Client(tls_daemon.tcp_address, TENANT_TOKEN, timeout_ms=5000,
                      tls_ca_file=str(tls_daemon.pki["ca"]))
    assert "not a tls:HOST:PORT address" in str(e.value)
