"""`scripts/demo` end to end: real broker, worker, simulator and table, in a pseudo-terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from kafka import KafkaAdminClient

from tests.support.kafka import ROOT, answers
from tests.support.net import free_port

DEMO = ROOT / "scripts" / "demo"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TABLE_TIMEOUT_S = 120.0
EXIT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class RepLine:
    """One rep's row of the rendered table, in the column order of `report_render`."""

    new_this_month: Decimal
    quota: Decimal
    attainment: Decimal | None
    retained: Decimal
    new: Decimal
    retention: Decimal | None
    retention_90d: Decimal | None

    @classmethod
    def parse(cls, cells: list[str]) -> RepLine:
        """`cells` after the rep label, as `report_render` displays them."""
        return cls(
            _money(cells[0]),
            _money(cells[1]),
            _percent(cells[2]),
            _money(cells[3]),
            _money(cells[4]),
            _percent(cells[5]),
            _percent(cells[6]),
        )


def _money(cell: str) -> Decimal:
    return Decimal(cell.replace(",", ""))


def _percent(cell: str) -> Decimal | None:
    return None if cell == "—" else Decimal(cell.removesuffix(" %"))


class Terminal:
    """The demo's pseudo-terminal: everything it printed, and its latest per-rep table."""

    def __init__(self, primary: int) -> None:
        self._fd = primary
        self.text = ""

    def read(self, wait_s: float) -> None:
        ready, _, _ = select.select([self._fd], [], [], wait_s)
        if not ready:
            return
        try:
            chunk = os.read(self._fd, 65536)
        except OSError:  # EIO: the demo closed the terminal
            time.sleep(wait_s)
            return
        self.text += ANSI.sub("", chunk.decode(errors="replace"))

    def reps(self) -> dict[str, RepLine]:
        """Rows of the last complete rep table (one followed by the lead-source table)."""
        frames = self.text.split("Retained MRR by rep")
        complete = [frame for frame in frames[1:] if "Retained MRR by lead source" in frame]
        if not complete:
            return {}
        rows: dict[str, RepLine] = {}
        for line in complete[-1].split("Retained MRR by lead source")[0].splitlines():
            cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
            if len(cells) == 11 and cells[0].split(" ")[0] in ("juan", "miguel"):
                rows[cells[0].split(" ")[0]] = RepLine.parse(cells[1:])
        return rows

    def wait_for(
        self, predicate: Callable[[dict[str, RepLine]], bool], proc: subprocess.Popen[bytes]
    ) -> dict[str, RepLine]:
        deadline = time.monotonic() + TABLE_TIMEOUT_S
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"demo exited ({proc.returncode}):\n{self.text[-3000:]}"
            self.read(0.5)
            rows = self.reps()
            if {"juan", "miguel"} <= rows.keys() and predicate(rows):
                return rows
        raise AssertionError(f"no such table within {TABLE_TIMEOUT_S}s:\n{self.text[-3000:]}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _topics_of(bootstrap: str, app_id: str) -> list[str]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="tests")
    try:
        return [name for name in admin.list_topics() if name.startswith(app_id)]
    finally:
        admin.close()


@pytest.mark.parametrize(
    "stop", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["ctrl-c", "sigterm", "hangup"]
)
def test_demo_shows_juan_above_quota_but_behind_miguel_then_stops_everything(
    kafka_bootstrap: str, tmp_path: Path, stop: signal.Signals
) -> None:
    env = os.environ | {
        "RETAINED_MRR_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "RETAINED_MRR_WEB_PORT": str(free_port()),
        "RETAINED_MRR_DEMO_DIR": str(tmp_path),
    }
    primary, secondary = pty.openpty()
    # Wide enough that rich never folds the eleven columns.
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 60, 240, 0, 0))
    started = time.monotonic()
    proc = subprocess.Popen(
        [str(DEMO)], cwd=ROOT, env=env, stdin=secondary, stdout=secondary, stderr=secondary
    )
    os.close(secondary)
    terminal = Terminal(primary)
    try:
        first = terminal.wait_for(lambda rows: True, proc)
        to_table = time.monotonic() - started
        story = terminal.wait_for(lambda rows: (rows["juan"].attainment or 0) > 100, proc)
        to_story = time.monotonic() - started
    finally:
        proc.send_signal(stop)
        deadline = time.monotonic() + EXIT_TIMEOUT_S
        # Keep draining: a demo blocked on a full terminal could never finish stopping.
        while proc.poll() is None and time.monotonic() < deadline:
            terminal.read(0.2)
        if proc.poll() is None:
            proc.kill()
        os.close(primary)
    print(f"\ndemo: first table after {to_table:.1f}s, Juan above quota after {to_story:.1f}s")

    assert proc.wait() == 0, terminal.text[-3000:]
    juan, miguel = story["juan"], story["miguel"]
    assert first["juan"].quota == miguel.quota == Decimal(90000)
    assert juan.attainment is not None
    # The table shows whole dollars, so recomputing from it may differ in the last digit.
    assert abs(juan.attainment - juan.new_this_month / juan.quota * 100) <= Decimal("0.1")
    assert juan.retained < miguel.retained
    assert juan.retention is not None and miguel.retention is not None
    assert juan.retention < miguel.retention
    assert juan.retention_90d is not None and miguel.retention_90d is not None
    assert juan.retention_90d < miguel.retention_90d
    assert miguel.retention_90d > 90

    pids = [int(line.split()[1]) for line in (tmp_path / "pids").read_text().splitlines()]
    assert len(pids) == 2
    assert not [pid for pid in pids if _alive(pid)]
    app_id = re.search(r"(retained-mrr-demo-[0-9a-f]{8})\.deals\.won", terminal.text)
    assert app_id is not None
    assert _topics_of(kafka_bootstrap, app_id.group(1)) == []
    assert "stays running afterwards" in terminal.text
    assert answers(kafka_bootstrap)


def test_demo_refuses_a_taken_metrics_port_and_starts_nothing(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = os.environ | {
            "RETAINED_MRR_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "RETAINED_MRR_WEB_PORT": str(port),
            "RETAINED_MRR_DEMO_DIR": str(tmp_path),
        }
        result = subprocess.run(
            [str(DEMO)], check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 1
    assert f"demo: error: port {port} is in use" in result.stderr
    assert "RETAINED_MRR_WEB_PORT" in result.stderr
    assert not (tmp_path / "pids").exists()
