"""Run `retained-mrr worker` as a real subprocess and read its `/metrics`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]

Series = tuple[str, frozenset[tuple[str, str]]]


def series(name: str, **labels: str) -> Series:
    return name, frozenset(labels.items())


def parse_metrics(text: str) -> dict[Series, float]:
    samples: dict[Series, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def fetch_metrics(url: str, timeout: float = 5.0) -> dict[Series, float]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return parse_metrics(response.read().decode())


@dataclass
class WorkerProcess:
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"

    def start(self) -> WorkerProcess:
        env = os.environ | self.env | {"RETAINED_MRR_WEB_PORT": str(self.port)}
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "stream.cli", "worker"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.wait_until(lambda m: True, timeout=90, what="/metrics to answer")
        return self

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def metrics(self) -> dict[Series, float]:
        return fetch_metrics(self.metrics_url)

    def wait_until(
        self,
        predicate: Callable[[dict[Series, float]], bool],
        timeout: float,
        what: str,
    ) -> dict[Series, float]:
        deadline = time.monotonic() + timeout
        last: dict[Series, float] = {}
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                last = self.metrics()
            except OSError:
                time.sleep(0.3)
                continue
            if predicate(last):
                return last
            time.sleep(0.5)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}:\n{self.log_tail()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode


def counter(samples: Mapping[Series, float], name: str, **labels: str) -> float:
    """Sum of a counter's samples whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(
        value
        for (sample, label_set), value in samples.items()
        if sample == name and wanted <= label_set
    )
