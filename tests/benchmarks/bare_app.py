"""The bare baseline of bench_gateway.py: Flask handlers that parse JSON and make one redis-py call.

Served by gunicorn with the gateway's own settings module, on the same redis-server as the
gateway, so the gap between the two is what the gateway adds: auth, the rate limit,
validation, the stored record's indexes and statistics, serialization, metrics, logging.
"""

import json
import os
import uuid

from flask import Flask, Response, request
from redis import Redis

PREFIX = "bare:"


def create_app() -> Flask:
    """Build the bare app on REDIS_URL."""
    app = Flask(__name__)
    redis = Redis.from_url(os.environ["REDIS_URL"])

    @app.post("/v1/interactions")
    def post_one() -> tuple[dict, int]:
        item = request.get_json()
        iid = uuid.uuid4().hex
        redis.set(PREFIX + iid, json.dumps(item))
        return {"id": iid}, 201

    @app.post("/v1/interactions/batch")
    def post_batch() -> tuple[dict, int]:
        items = request.get_json()["items"]
        pipe = redis.pipeline(transaction=False)
        ids = [uuid.uuid4().hex for _ in items]
        for iid, item in zip(ids, items, strict=True):
            pipe.set(PREFIX + iid, json.dumps(item))
        pipe.execute()
        return {"count": len(ids), "ids": ids}, 201

    @app.get("/v1/jobs/<job_id>")
    def get_job(job_id: str) -> Response:
        raw = redis.get(PREFIX + "job:" + job_id)
        if raw is None:
            return Response(status=404)
        return Response(raw, mimetype="application/json")

    return app
