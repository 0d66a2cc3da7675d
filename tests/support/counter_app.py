"""A minimal Faust app for the smoke test: counts events per key into a changelogged table.

Run as a real worker: `python -m tests.support.counter_app worker`, configured by the
environment (COUNTER_BOOTSTRAP, COUNTER_APP_ID, COUNTER_TOPIC, COUNTER_PORT).
"""

from __future__ import annotations

import os
from typing import Any

import faust
from aiohttp.web import Response

app = faust.App(
    os.environ["COUNTER_APP_ID"],
    broker=f"kafka://{os.environ['COUNTER_BOOTSTRAP']}",
    store="memory://",
    datadir=os.environ["COUNTER_DATADIR"],
    web_port=int(os.environ["COUNTER_PORT"]),
    web_host="127.0.0.1",
    topic_partitions=1,
    topic_replication_factor=1,
    consumer_auto_offset_reset="earliest",
)
source = app.topic(os.environ["COUNTER_TOPIC"], key_type=str, value_type=str)
counts = app.Table("counts", default=int, partitions=1)


@app.agent(source)
async def count(stream: Any) -> None:
    async for key, _value in stream.items():
        counts[key] += 1


@app.page("/counts")
async def show_counts(_web: Any, request: Any) -> Response:
    return app.web.json(dict(counts.items()))  # type: ignore[no-any-return]


if __name__ == "__main__":
    app.main()
