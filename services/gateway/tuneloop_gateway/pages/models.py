"""A model's page: what it is, and a box to ask it a question."""

from flask import render_template, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from tuneloop.schemas.models import ResponseInSchema
from tuneloop_gateway.api.models import ask_model, get_model_or_404, with_aliases
from tuneloop_gateway.auth import JOBS
from tuneloop_gateway.pages.site import bp, requires


@bp.get("/models/<model:model_id>")
@requires(JOBS)
def model(model_id: str) -> object:
    """Describe the model and offer the question box."""
    return render_template("model.html", model=with_aliases([get_model_or_404(model_id)])[0])


@bp.post("/models/<model:model_id>/ask")
@requires(JOBS)
def model_ask(model_id: str) -> object:
    """Ask the model as POST /v1/models/{id}/responses does; show its answer on the page."""
    meta = with_aliases([get_model_or_404(model_id)])[0]
    question = request.form.get("input", "")
    answer, error, status = None, "", 200
    try:
        body = ResponseInSchema().load({"input": question})
        answer = ask_model(model_id, body["input"])
    except ValidationError as exc:
        error, status = "; ".join(exc.normalized_messages().get("input", ["invalid"])), 422
    except HTTPException as exc:  # 503: no worker answered in time
        if exc.code != 503:
            raise
        error, status = "No worker answered in time; try again.", 503
    page = render_template("model.html", model=meta, question=question, answer=answer, error=error)
    return page, status
