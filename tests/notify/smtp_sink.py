#!/usr/bin/python3
"""A real SMTP server for the tests (aiosmtpd): every accepted message is written to its own
file in OUT_DIR. --refuse answers every recipient with 451 (a relay that is down for now);
--delay-rcpt holds each recipient that long before accepting (a slow relay, so a test can stop
a sender mid-conversation). Prints "ready" once listening."""
import argparse
import asyncio
import itertools
import os
import sys

from aiosmtpd.controller import Controller

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--refuse", action="store_true")
parser.add_argument("--delay-rcpt", type=float, default=0.0)
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
            f.write(envelope.original_content or envelope.content)
        os.rename(tmp, os.path.join(args.out, f"{os.getpid()}-{n}.eml"))
        return "250 Message accepted"


controller = Controller(Sink(), hostname="127.0.0.1", port=args.port)
controller.start()
print("ready", flush=True)
try:
    sys.stdin.read()  # runs until the test closes our stdin or kills us
finally:
    controller.stop()
