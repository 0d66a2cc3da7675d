"""scripts/kafka-local on its own port and home: idempotent start, status, stop, and a
restart that keeps the topics. (The session broker is left alone.)"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from kafka import KafkaAdminClient

from tests.support.kafka import KAFKA_LOCAL, ROOT, create_topics
from tests.support.net import free_port


def run(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KAFKA_LOCAL), command], env=env, capture_output=True, text=True, check=False
    )


def topics(bootstrap: str) -> set[str]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        return set(admin.list_topics())
    finally:
        admin.close()


def test_start_twice_status_stop_and_restart_keeps_topics(tmp_path: Path) -> None:
    port = free_port()  # the controller takes port + 1, which is almost always free too
    bootstrap = f"localhost:{port}"
    home = tmp_path / "kafka"
    home.mkdir()
    # Share the fetched jars with the project cache so this needs no second download.
    version_dir = next((ROOT / ".cache" / "kafka").glob("[0-9]*"), None)
    if version_dir is not None:
        (home / version_dir.name).symlink_to(version_dir)
    env = os.environ | {
        "KAFKA_LOCAL_PORT": str(port),
        "KAFKA_LOCAL_HOME": str(home),
        "RETAINED_MRR_KAFKA_BOOTSTRAP": bootstrap,
    }
    try:
        first = run("start", env)
        assert first.returncode == 0, first.stderr
        assert first.stdout.strip() == bootstrap
        again = run("start", env)
        assert again.returncode == 0, again.stderr
        assert again.stdout.strip() == bootstrap
        status = run("status", env)
        assert status.returncode == 0
        assert status.stdout.startswith(f"running: {bootstrap} (pid ")

        create_topics(bootstrap, ["kept-across-restart"], partitions=3)
        assert run("stop", env).returncode == 0
        stopped = run("status", env)
        assert stopped.returncode == 3
        assert stopped.stdout.startswith("stopped:")

        assert run("start", env).returncode == 0
        assert "kept-across-restart" in topics(bootstrap)
    finally:
        run("stop", env)
    assert run("status", env).returncode == 3
