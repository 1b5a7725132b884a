"""``RedisTap``: a TCP relay in front of the real redis-server that kills a worker at a chosen reply.

A worker talks to Redis through the tap. Each time Redis answers, the tap shows the trigger what the worker
sent since its last answer and the answer so far; when the trigger says so, the tap SIGKILLs the worker
before the answer reaches it. Redis has done the command; the worker never learns it. This puts a kill
between any two round trips the worker makes, exactly where a test wants it, instead of hoping a timed
kill lands there.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import threading
from collections.abc import Callable

Trigger = Callable[[bytes, bytes], bool]


class RedisTap:
    def __init__(self, upstream_port: int, trigger: Trigger) -> None:
        self.upstream_port = upstream_port
        self.trigger = trigger
        self.victim: int | None = None
        self.fired = threading.Event()
        self.fired_on: tuple[bytes, bytes] = (b"", b"")
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closing = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def close(self) -> None:
        self._closing.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._relay, args=(client, upstream), daemon=True).start()

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        sent, answer = b"", b""
        with selectors.DefaultSelector() as sel, client, upstream:
            sel.register(client, selectors.EVENT_READ)
            sel.register(upstream, selectors.EVENT_READ)
            while not self._closing.is_set():
                for key, _ in sel.select(timeout=0.5):
                    try:
                        data = key.fileobj.recv(1 << 16)  # type: ignore[union-attr]
                    except OSError:  # the worker was killed (by this tap or the test)
                        return
                    if not data:
                        return
                    if key.fileobj is client:
                        if answer:
                            sent, answer = b"", b""
                        sent += data
                        try:
                            upstream.sendall(data)
                        except OSError:
                            return
                        continue
                    answer += data
                    if not self.fired.is_set() and self.victim is not None and self.trigger(sent, answer):
                        self.fired_on = (sent, answer)
                        os.kill(self.victim, signal.SIGKILL)
                        self.fired.set()
                        return
                    try:
                        client.sendall(data)
                    except OSError:
                        return
