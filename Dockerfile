# Kizuna's service image. Run `kizuna migrate` once (a one-off container or a release step)
# before starting or scaling `kizuna serve` / `kizuna dispatch` replicas:
#   docker build -t kizuna .
#   docker run --rm -e KIZUNA_DATABASE_URL=postgresql+asyncpg://... kizuna kizuna migrate
#   docker run -p 8000:8000 -e KIZUNA_DATABASE_URL=postgresql+asyncpg://... kizuna
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app app
COPY orchestrator orchestrator
COPY channels channels
COPY policies policies
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    KIZUNA_HOST=0.0.0.0 \
    KIZUNA_DATABASE_URL=sqlite+aiosqlite:////srv/kizuna/data/kizuna.db
RUN useradd --system --uid 10001 --home-dir /srv/kizuna kizuna \
    && mkdir -p /srv/kizuna/data && chown kizuna /srv/kizuna/data
WORKDIR /srv/kizuna
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY alembic.ini ./
COPY alembic alembic
USER kizuna
VOLUME ["/srv/kizuna/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]
CMD ["kizuna", "serve"]
