# SPDX-License-Identifier: Apache-2.0
"""Test certificates for DTLS with certificates (LwM2M's "Certificate" security mode): a CA, a
server certificate and client certificates, made with the `openssl` command line. EC P-256 keys,
PEM files, valid from now for 30 days. Not a test itself.

    pki = make_pki(tmpdir, client_cns=["ep1"])
    LwM2MServer(pki=server_pki(pki))                     # (cert, key, ca) of the server
    cert, key = pki["clients"]["ep1"]["cert"], pki["clients"]["ep1"]["key"]

Client certificates carry no subjectAltName: libcoap reports a certificate's subjectAltName when
there is one and its CN otherwise, so the CN given here is the cert_cn the test server reports.
The server certificate is for CN "localhost" with subjectAltName DNS:localhost, IP:127.0.0.1 and
IP:::1. A second make_ca() in another directory gives a CA the server does not trust.

An LwM2M bootstrap server writes certificates and keys as DER (Security /0/x/3, 4, 5):
der_cert(path) and der_key(path) give those bytes of a PEM file.
"""
import os
import secrets
import subprocess

DAYS = 30


def _openssl(*args, stdin=None):
    return subprocess.run(["openssl"] + list(args), check=True, input=stdin,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE).stdout


def _ec_key(path):
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)
    return path


def make_ca(directory, cn="lwm2m-test-ca", name="ca"):
    """A self-signed CA: (cert path, key path) as directory/NAME.pem and NAME.key."""
    os.makedirs(directory, exist_ok=True)
    cert, key = os.path.join(directory, name + ".pem"), os.path.join(directory, name + ".key")
    _ec_key(key)
    _openssl("req", "-x509", "-new", "-key", key, "-out", cert, "-days", str(DAYS),
             "-subj", "/CN=" + cn, "-sha256",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-addext", "subjectKeyIdentifier=hash")
    return cert, key


def make_cert(directory, name, cn, ca_cert, ca_key, server=False, sans=()):
    """A certificate for cn signed by the CA: (cert path, key path) as directory/NAME.pem and
    NAME.key. server=True: serverAuth, else clientAuth. sans: e.g. ["DNS:localhost",
    "IP:127.0.0.1"] (none by default)."""
    os.makedirs(directory, exist_ok=True)
    cert, key = os.path.join(directory, name + ".pem"), os.path.join(directory, name + ".key")
    csr, ext = cert + ".csr", cert + ".ext"
    _ec_key(key)
    _openssl("req", "-new", "-key", key, "-out", csr, "-subj", "/CN=" + cn)
    lines = ["basicConstraints=critical,CA:FALSE",
             "keyUsage=critical,digitalSignature,keyAgreement",
             "extendedKeyUsage=" + ("serverAuth" if server else "clientAuth"),
             "subjectKeyIdentifier=hash", "authorityKeyIdentifier=keyid"]
    if sans:
        lines.append("subjectAltName=" + ",".join(sans))
    with open(ext, "w") as f:
        f.write("\n".join(lines) + "\n")
    _openssl("x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-out", cert,
             "-days", str(DAYS), "-sha256", "-extfile", ext,
             "-set_serial", "0x" + secrets.token_hex(12))
    os.unlink(csr)
    os.unlink(ext)
    return cert, key


def make_pki(directory, client_cns=("ep1",), server_cn="localhost"):
    """A CA, a server certificate and one client certificate per CN, in directory:
    {"ca": path, "ca_key": path, "server_cert": path, "server_key": path,
     "clients": {cn: {"cert": path, "key": path}}}."""
    ca, ca_key = make_ca(directory)
    srv_cert, srv_key = make_cert(directory, "server", server_cn, ca, ca_key, server=True,
                                  sans=("DNS:localhost", "IP:127.0.0.1", "IP:::1"))
    pki = {"ca": ca, "ca_key": ca_key, "server_cert": srv_cert, "server_key": srv_key,
           "clients": {}}
    for cn in client_cns:
        add_client(pki, directory, cn)
    return pki


def add_client(pki, directory, cn):
    """One more client certificate signed by pki's CA; returns {"cert", "key"} (also kept in
    pki["clients"][cn])."""
    name = "client-%d" % len(pki["clients"])
    cert, key = make_cert(directory, name, cn, pki["ca"], pki["ca_key"])
    pki["clients"][cn] = {"cert": cert, "key": key}
    return pki["clients"][cn]


def server_pki(pki):
    """(cert, key, ca) for LwM2MServer(pki=...)."""
    return pki["server_cert"], pki["server_key"], pki["ca"]


def der_cert(path):
    """The DER bytes of a PEM certificate file."""
    return _openssl("x509", "-in", path, "-outform", "DER")


def der_key(path, traditional=False):
    """The DER bytes of a PEM private key: PKCS#8 PrivateKeyInfo, or with traditional=True the
    key's own form (RFC 5915 ECPrivateKey for these EC keys)."""
    if traditional:
        return _openssl("pkey", "-in", path, "-outform", "DER", "-traditional")
    return _openssl("pkcs8", "-topk8", "-nocrypt", "-in", path, "-outform", "DER")
