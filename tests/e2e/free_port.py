#!/usr/bin/env python3
"""Prints a free TCP port on 127.0.0.1 for a test server to listen on.

Ports come from 20000-32767, below Linux's ephemeral range (32768-60999): a port the kernel
hands to some outgoing connection between this check and the server's bind can then never
collide with it, which happened with port 0 picks.
"""
import random
import socket

for _ in range(200):
    port = random.randrange(20000, 32768)
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(port)
        break
else:
    raise SystemExit("no free port found in 20000-32767")
