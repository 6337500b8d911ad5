"""flask-smorest's Blueprint with a JSON parser that never lets a body cause a 500."""

from typing import Any, NoReturn

import flask
import flask_smorest
from webargs.flaskparser import FlaskParser, abort


class SafeJsonParser(FlaskParser):
    """Treat every undecodable body as 400: too-long integers, too-deep nesting too."""

    def _raw_load_json(self, req: flask.Request) -> Any:
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            abort(400, messages={"json": ["JSON body is nested too deeply."]})
        except ValueError as exc:  # JSONDecodeError and int-too-long both are ValueErrors
            self._bad_json(exc)

    def _bad_json(self, exc: ValueError) -> NoReturn:
        abort(400, exc=exc, messages={"json": ["Invalid JSON body."]})


class Blueprint(flask_smorest.Blueprint):
    """A blueprint whose request bodies go through SafeJsonParser."""

    ARGUMENTS_PARSER = SafeJsonParser()
