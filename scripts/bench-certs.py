#!/usr/bin/env python3
"""Certificate files for `scripts/bench certs`, and the comparison parse with `cryptography`.

  bench-certs.py make DIR N   writes N PEM certificates (card-like: 2048-bit RSA, SHA-256,
                              authentication or signing key usage, NHS-like names and dates)
  bench-certs.py parse DIR    reads every file in DIR in this one process and takes from each
                              what `cardwatch certs scan` prints: subject, issuer, serial,
                              validity, key usage, signature hash; prints the count
"""
import datetime
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def make(folder, n):
    os.makedirs(folder, exist_ok=True)
    # One key signs them all: the files are what is measured, not key generation.
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issuer = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "GB"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "nhs"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "CA"),
        x509.NameAttribute(NameOID.COMMON_NAME, "NHS Level 1C"),
    ])
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    for i in range(n):
        signing = i % 2 == 1
        subject = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "GB"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "nhs"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "People"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, f"{700000000000 + i // 2}"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Holder {i // 2}"),
        ])
        not_before = start + datetime.timedelta(days=i % 700)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(1_000_000 + i)
            .not_valid_before(not_before)
            .not_valid_after(not_before + datetime.timedelta(days=1095))
            .add_extension(
                x509.KeyUsage(
                    digital_signature=not signing, content_commitment=signing,
                    key_encipherment=False, data_encipherment=False, key_agreement=False,
                    key_cert_sign=False, crl_sign=False, encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        with open(os.path.join(folder, f"{i:06d}.pem"), "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))


def parse(folder):
    count = 0
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".pem"):
            continue
        with open(os.path.join(folder, name), "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        cert.subject.rfc4514_string()
        cert.issuer.rfc4514_string()
        format(cert.serial_number, "x")
        cert.not_valid_before_utc
        cert.not_valid_after_utc
        try:
            cert.extensions.get_extension_for_class(x509.KeyUsage)
        except x509.ExtensionNotFound:
            pass
        cert.signature_hash_algorithm
        count += 1
    print(count)


if __name__ == "__main__":
    if sys.argv[1:2] == ["make"]:
        make(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1:2] == ["parse"]:
        parse(sys.argv[2])
    else:
        sys.exit(__doc__)
