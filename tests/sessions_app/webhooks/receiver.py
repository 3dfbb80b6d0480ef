"""A real HTTP receiver on 127.0.0.1 for webhook tests: records requests, answers as scripted."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from tests.http_server import LoopbackServer, QuietHandler


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """`script` is a list of (status, sleep_s, headers) used in order; then `default` answers."""

    script: list[tuple[int, float, dict[str, str]]] = field(default_factory=list)
    default: tuple[int, float, dict[str, str]] = (200, 0.0, {})
    requests: list[Received] = field(default_factory=list)
    server: LoopbackServer | None = None

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def url(self) -> str:
        return f"{self.server.url}/hook"

    def start(self, port: int = 0) -> Receiver:
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append(Received(dict(self.headers), body, time.monotonic()))
                status, sleep_s, headers = (
                    receiver.script.pop(0) if receiver.script else receiver.default
                )
                time.sleep(sleep_s)
                self.send_body(status, b"ok", headers)

        self.server = LoopbackServer(Handler, port)
        return self

    def stop(self) -> None:
        self.server.close()
