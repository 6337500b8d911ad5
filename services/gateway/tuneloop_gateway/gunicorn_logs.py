"""gunicorn's own lines and its access log as JSON lines (LOG_FORMAT=json).

gunicorn_conf picks JsonLogger as gunicorn's logger_class when the log format is json; in
text format gunicorn's own Logger writes today's lines (access_log_format).
"""

import datetime
import logging
import os
from collections.abc import Mapping

from gunicorn.glogging import Logger

from tuneloop import logs


def access_fields(
    status: int, headers: list[tuple[str, str]], environ: Mapping, sent: int | None, took: float
) -> dict[str, object]:
    """Return an access-log line's fields: method, path, status, bytes, duration, ids."""
    fields: dict[str, object] = {
        "method": environ.get("REQUEST_METHOD", ""),
        "path": environ.get("PATH_INFO", ""),
        "status": status,
        "bytes": sent,
        "duration_ms": round(took * 1000, 3),
        "remote_addr": environ.get("REMOTE_ADDR"),
    }
    if environ.get("QUERY_STRING"):
        fields["query"] = environ["QUERY_STRING"]
    request_id = next((v for k, v in headers if k.lower() == "x-request-id"), None)
    if request_id:
        fields["request_id"] = request_id
    return fields


class JsonLogger(Logger):
    """gunicorn's logger, writing JSON lines; one structured line per request."""

    def setup(self, cfg: object) -> None:
        """Set gunicorn's handlers up as usual, then make them write JSON.

        The root logger writes JSON too from here on, so that what a worker logs before the
        app configures it (a warning while gevent patches, say) is a JSON line as well.
        """
        super().setup(cfg)
        logs.configure_logging(os.environ.get("LOG_LEVEL", "INFO"), "json")
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                logs.style(handler, "json")

    def access(
        self, resp: object, req: object, environ: dict, request_time: datetime.timedelta
    ) -> None:
        """Log one request: method, path, status, bytes, duration_ms, request_id, address."""
        if not self.access_log_enabled:
            return
        status = resp.status
        code = int(status.split(None, 1)[0]) if isinstance(status, str) else int(status)
        headers = resp.headers.items() if hasattr(resp.headers, "items") else resp.headers
        fields = access_fields(
            code, list(headers), environ, getattr(resp, "sent", None), request_time.total_seconds()
        )
        message = f"{fields['method']} {environ.get('RAW_URI', fields['path'])} {code}"
        try:
            self.access_log.info(message, extra={"fields": fields})
        except Exception:  # gunicorn's own access() never lets a log line fail a request
            logging.getLogger("gunicorn.error").exception("access log line failed")
