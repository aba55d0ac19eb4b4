#!/usr/bin/python3
"""A real SMTP server for the tests (aiosmtpd): every accepted message is written to its own
file in OUT_DIR. --refuse answers every recipient with 451 (a relay that is down for now);
--delay-rcpt holds each recipient that long before accepting (a slow relay, so a test can stop
a sender mid-conversation). --tls starttls|smtps with --cert and --key serves TLS (STARTTLS
required, or TLS from the first byte); --auth USER:PASSWORD requires SMTP AUTH with those. Each
message file starts with how it came: X-Envelope-To, X-Sink-TLS (yes/no), X-Sink-Login.
Prints "ready" once listening."""
import argparse
import asyncio
import itertools
import os
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--refuse", action="store_true")
parser.add_argument("--delay-rcpt", type=float, default=0.0)
parser.add_argument("--tls", choices=["starttls", "smtps"])
parser.add_argument("--cert")
parser.add_argument("--key")
parser.add_argument("--auth")
args = parser.parse_args()
counter = itertools.count()


class Sink:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if args.refuse:
            return "451 4.3.0 try again later"
        if args.delay_rcpt:
            await asyncio.sleep(args.delay_rcpt)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n = next(counter)
        tmp = os.path.join(args.out, f".{os.getpid()}-{n}.tmp")
        with open(tmp, "wb") as f:
            f.write(b"X-Envelope-To: " + ",".join(envelope.rcpt_tos).encode() + b"\r\n")
            # session.ssl is set by STARTTLS; an smtps listener takes nothing but TLS.
            tls = session.ssl is not None or args.tls == "smtps"
            f.write(b"X-Sink-TLS: " + (b"yes" if tls else b"no") + b"\r\n")
            login = session.auth_data or b""
            f.write(b"X-Sink-Login: " + (login if isinstance(login, bytes) else str(login).encode()) + b"\r\n")
            f.write(envelope.original_content or envelope.content)
        os.rename(tmp, os.path.join(args.out, f"{os.getpid()}-{n}.eml"))
        return "250 Message accepted"


def authenticator(server, session, envelope, mechanism, auth_data):
    if not isinstance(auth_data, LoginPassword):
        return AuthResult(success=False, handled=False)
    user, password = args.auth.split(":", 1)
    ok = auth_data.login == user.encode() and auth_data.password == password.encode()
    # handled=False: aiosmtpd answers a refusal itself (535) rather than leave the client waiting.
    return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)


options = {}
if args.tls:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)
    if args.tls == "starttls":
        options.update(tls_context=context, require_starttls=True)
    else:
        options.update(ssl_context=context)
if args.auth:
    # aiosmtpd offers AUTH "only over TLS" by watching for STARTTLS; a connection that is TLS
    # from the first byte is already encrypted, so that check is off for smtps.
    options.update(authenticator=authenticator, auth_required=True,
                   auth_require_tls=args.tls != "smtps")
controller = Controller(Sink(), hostname="127.0.0.1", port=args.port, **options)
controller.start()
print("ready", flush=True)
try:
    sys.stdin.read()  # runs until the test closes our stdin or kills us
finally:
    controller.stop()
