"""The `retained-mrr` command line.

Each command module exposes `register(subparsers)`, which adds its parser and sets
`handler(args) -> exit code`; adding a command is one line in `COMMANDS`. Modules
that need Faust import it inside their handler, so `--help` stays fast and works
without a broker.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

from schemas import documents
from stream import demo, kafka_failures, publish, report_cli, simulate_cli, topics
from stream.config import ConfigError, Settings

__all__ = ["COMMANDS", "Subparsers", "main"]

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _run_schemas(args: argparse.Namespace) -> int:
    directory = Path(args.dir)
    if args.check:
        stale = documents.stale(directory)
        for name in stale:
            print(
                f"{directory / name} differs from the models; run `retained-mrr schemas`",
                file=sys.stderr,
            )
        return 1 if stale else 0
    for name in documents.write(directory):
        print(f"wrote {directory / name}")
    return 0


def _register_schemas(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "schemas", help="write the JSON Schema files generated from the event models"
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a file differs, write nothing"
    )
    parser.add_argument("--dir", default=str(documents.SCHEMA_DIR), help="default: %(default)s")
    parser.set_defaults(handler=_run_schemas)


def _run_worker(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    # Imported here: it pulls in Faust, which `--help` and the other commands must not.
    from stream import worker  # noqa: PLC0415

    return worker.run(settings)


def _register_worker(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "worker", help="run the Faust worker (metrics on RETAINED_MRR_WEB_PORT)"
    )
    parser.set_defaults(handler=_run_worker)


COMMANDS: tuple[Callable[[Subparsers], None], ...] = (
    _register_worker,
    topics.register,
    publish.register,
    _register_schemas,
    simulate_cli.register,
    report_cli.register,
    demo.register,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="retained-mrr",
        description="Live retained MRR per sales rep, lead source and cohort."
        " Configuration: RETAINED_MRR_* environment variables (see the README).",
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for register in COMMANDS:
        register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    kafka_failures.watch()
    try:
        return handler(args)
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
