"""Callback receivers, a polite one and ones that misbehave the way the outside world can: used by
the callback tests and `bench.faults.abuse`."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DRIP_SECONDS = 0.5  # the dripping receiver's pace: far below any per-read timeout


class Receiver:
    """A small real HTTP server that records deliveries and answers a scripted status list."""

    def __init__(self, statuses: list[int], delay: float = 0.0) -> None:
        self.statuses = statuses
        self.delay = delay  # seconds before answering: a slow receiver
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self.answered = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.deliveries.append(({k.lower(): v for k, v in self.headers.items()}, body))
                # a slow receiver: the event doubles as an interruptible timer
                receiver.answered.wait(receiver.delay)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class DrippingReceiver:
    """A raw TCP receiver that reads the request, then sends a 200 one byte every DRIP_SECONDS
    (a status line longer than any attempt). Records how long each connection was held before
    the client hung up, and how many are open now."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hook"
        self.held: list[float] = []
        self.open = 0
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = self.listener.accept()
                threading.Thread(target=self._drip, args=(connection,), daemon=True).start()

    def _drip(self, connection: socket.socket) -> None:
        self.open += 1
        started = time.monotonic()
        answer = b"HTTP/1.1 200 OK" + b" (slowly)" * 40 + b"\r\nContent-Length: 0\r\n\r\n"
        with connection, contextlib.suppress(OSError):
            for byte in answer:
                readable, _, _ = select.select([connection], [], [], DRIP_SECONDS)
                if self.stopped.is_set() or (
                    readable and not connection.recv(65536, socket.MSG_PEEK)
                ):
                    break  # the client hung up (or the test is over)
                if readable:
                    connection.recv(65536)  # the request
                connection.sendall(bytes([byte]))
        self.held.append(time.monotonic() - started)
        self.open -= 1

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()
