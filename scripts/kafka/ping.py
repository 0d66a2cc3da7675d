"""Ask a Kafka broker for cluster metadata; exit 0 once it names at least one broker.

Standard library only, so `scripts/kafka-local` can probe readiness before any
virtualenv exists. Metadata v4 is the oldest version Kafka 4.x still accepts.
"""

from __future__ import annotations

import socket
import struct
import sys

METADATA_API_KEY = 3
METADATA_VERSION = 4
CLIENT_ID = b"kafka-local-ping"


def metadata_request(correlation_id: int) -> bytes:
    header = struct.pack(
        ">hhih", METADATA_API_KEY, METADATA_VERSION, correlation_id, len(CLIENT_ID)
    )
    # topics = null (all topics), allow_auto_topic_creation = false
    body = struct.pack(">i?", -1, False)
    payload = header + CLIENT_ID + body
    return struct.pack(">i", len(payload)) + payload


def read_exactly(sock: socket.socket, n: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < n:
        chunk = sock.recv(n - len(chunks))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        chunks.extend(chunk)
    return bytes(chunks)


def broker_count(host: str, port: int, timeout: float) -> int:
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(metadata_request(correlation_id=1))
        (size,) = struct.unpack(">i", read_exactly(sock, 4))
        response = read_exactly(sock, size)
    correlation_id, _throttle_ms, brokers = struct.unpack(">iii", response[:12])
    if correlation_id != 1:
        raise ConnectionError(f"unexpected correlation id {correlation_id}")
    return brokers


def main() -> int:
    bootstrap = sys.argv[1] if len(sys.argv) > 1 else "localhost:9092"
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        count = broker_count(host or "localhost", int(port), timeout=2.0)
    except (OSError, ConnectionError, struct.error) as exc:
        print(f"{bootstrap}: {exc}", file=sys.stderr)
        return 1
    if count < 1:
        print(f"{bootstrap}: metadata names no broker yet", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
