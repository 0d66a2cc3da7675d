"""Child processes and Kafka resources the demo owns, and how to release them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from stream.config import Settings

__all__ = ["Child", "delete_run_topics"]

STOP_TIMEOUT_S = 30.0


class Child:
    """A background command in its own session, so a Ctrl-C at the terminal reaches
    only the demo, which then stops its children in order (simulator before worker)."""

    def __init__(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], log: Path, cwd: Path
    ) -> None:
        self.name = name
        self.log = log
        with log.open("wb") as out:
            self._proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self._proc.pid

    def exited(self) -> int | None:
        return self._proc.poll()

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, sig: signal.Signals) -> None:
        """Signal the whole process group; kill it if it outlives `STOP_TIMEOUT_S`."""
        if self._proc.poll() is not None:
            return
        os.killpg(self._proc.pid, sig)
        try:
            self._proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            print(f"demo: {self.name} did not stop within {STOP_TIMEOUT_S:.0f}s; killing it")
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()


def delete_run_topics(settings: Settings) -> list[str]:
    """Delete the run's topics, Faust's internal `<app id>-…` topics and its consumer
    group, so repeated demos do not pile up on the broker. Returns the deleted names."""
    ours = {
        settings.topic_deals,
        settings.topic_cancellations,
        settings.topic_quotas,
        settings.topic_dead_letter,
    }
    admin = KafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=f"{settings.app_id}-cleanup",
        **settings.kafka_client_options(),
    )
    try:
        names = sorted(
            name
            for name in admin.list_topics()
            if name in ours or name.startswith(f"{settings.app_id}-")
        )
        if names:
            admin.delete_topics(names)
        # The group may never have committed, or be gone already.
        with contextlib.suppress(KafkaError):
            admin.delete_groups([settings.app_id])
        return names
    finally:
        admin.close()
