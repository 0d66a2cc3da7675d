# syntax=docker/dockerfile:1
# The retained-mrr image. docker-compose.yml runs every CLI command from it:
# `worker` by default, `topics create` and `simulate` by overriding CMD.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RETAINED_MRR_DATA_DIR=/var/lib/retained-mrr

# A fixed uid, so a host directory mounted as the data dir can be chowned to match.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/retained-mrr \
        --no-create-home --shell /usr/sbin/nologin retained-mrr \
    && install -d -o retained-mrr -g retained-mrr /var/lib/retained-mrr

WORKDIR /tmp/src
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY stream ./stream
# Wheels only: every dependency, rocksdict included, ships a manylinux wheel, so the
# image needs no compiler, and a release that stops shipping one fails here, loudly.
RUN pip install --only-binary=:all: . && rm -rf /tmp/src

WORKDIR /var/lib/retained-mrr
USER retained-mrr
# Declared after the chown so a fresh named volume starts owned by the app user.
VOLUME ["/var/lib/retained-mrr"]
EXPOSE 6066
ENTRYPOINT ["retained-mrr"]
CMD ["worker"]
