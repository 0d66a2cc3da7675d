"""The command line: help without a broker or Faust, exit codes, the schemas command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from schemas import documents
from stream.cli import main

HELP_WITHOUT_FAUST = """
import sys
from stream.cli import main
try:
    main(sys.argv[1:])
except SystemExit as done:
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("faust", "mode", "aiokafka"))
    print("LOADED", loaded)
    sys.exit(done.code)
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["worker", "--help"],
        ["topics", "create", "--help"],
        ["publish", "--help"],
        ["quotas", "set", "--help"],
        ["schemas", "--help"],
        ["simulate", "--help"],
        ["report", "--help"],
        ["demo", "--help"],
    ],
)
def test_help_works_without_a_broker_and_without_faust(argv: list[str]) -> None:
    # A broker address nobody listens on: help must not try to connect.
    env = {"RETAINED_MRR_KAFKA_BOOTSTRAP": "127.0.0.1:1", "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-c", HELP_WITHOUT_FAUST, *argv],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "usage: retained-mrr" in result.stdout
    assert "LOADED []" in result.stdout


def test_every_command_is_listed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for command in (
        "worker",
        "topics",
        "publish",
        "quotas",
        "schemas",
        "simulate",
        "report",
        "demo",
    ):
        assert f"    {command} " in out


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main([])
    assert done.value.code == 2
    assert "the following arguments are required: COMMAND" in capsys.readouterr().err


def test_configuration_error_exits_2_with_the_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RETAINED_MRR_PARTITIONS", "eight")
    assert main(["publish", "--dry-run", "-"]) == 2
    assert capsys.readouterr().err == (
        "configuration error: RETAINED_MRR_PARTITIONS: 'eight' is not a whole number\n"
    )


def test_schemas_check_and_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schemas", "--check"]) == 0, "committed schema files are stale"
    assert main(["schemas", "--check", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'deal_won.schema.json'} differs from the models" in err

    assert main(["schemas", "--dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.count("wrote ") == 3
    for name, text in documents.render().items():
        assert (tmp_path / name).read_text() == text
    assert main(["schemas", "--check", "--dir", str(tmp_path)]) == 0
    assert main(["schemas", "--dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == ""


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "retained-mrr"
    result = subprocess.run(
        [str(script), "schemas", "--check"], check=False, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
