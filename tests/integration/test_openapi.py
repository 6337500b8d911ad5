"""The OpenAPI document describes every endpoint and schema the gateway serves."""

import re

import jsonschema_rs
import pytest

from tuneloop.settings import Settings
from tuneloop.webhooks.events import EVENT_TYPES
from tuneloop_gateway.app import create_app

from .support import ApiClient, Stack, create_job, seed_interactions, wait_for_job

pytestmark = pytest.mark.integration

EXPECTED = {
    "/healthz": {"get"},
    "/readyz": {"get"},
    "/v1/interactions": {"get", "post"},
    "/v1/interactions/batch": {"post"},
    "/v1/interactions/stats": {"get"},
    "/v1/interactions/{interaction_id}": {"get", "patch", "delete"},
    "/v1/interactions/{interaction_id}/scores": {"post"},
    "/v1/interactions/{interaction_id}/events": {"get"},
    "/v1/jobs": {"get", "post"},
    "/v1/jobs/{job_id}": {"get", "delete"},
    "/v1/jobs/{job_id}/cancel": {"post"},
    "/v1/jobs/{job_id}/pause": {"post"},
    "/v1/jobs/{job_id}/resume": {"post"},
    "/v1/jobs/{job_id}/events": {"get"},
    "/v1/jobs/{job_id}/training_file": {"get"},
    "/v1/jobs/{job_id}/cases": {"get"},
    "/v1/jobs/{job_id}/compare": {"get"},
    "/v1/jobs/{job_id}/report.md": {"get"},
    "/v1/evaluations": {"post"},
    "/v1/models": {"get"},
    "/v1/models/{model_id}": {"get", "delete"},
    "/v1/models/{model_id}/responses": {"post"},
    "/v1/models/{model_id}/content": {"get"},
    "/v1/usage": {"get"},
    "/v1/autopilots": {"get", "post"},
    "/v1/autopilots/{autopilot_id}": {"get", "delete"},
    "/v1/autopilots/{autopilot_id}/pause": {"post"},
    "/v1/autopilots/{autopilot_id}/resume": {"post"},
    "/v1/webhooks": {"get", "post"},
    "/v1/webhooks/{webhook_id}": {"get", "delete"},
    "/v1/webhooks/{webhook_id}/deliveries": {"get"},
    "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver": {"post"},
    "/v1/fine_tuning/jobs": {"get", "post"},
    "/v1/fine_tuning/jobs/{job_id}": {"get"},
    "/v1/fine_tuning/jobs/{job_id}/cancel": {"post"},
    "/v1/fine_tuning/jobs/{job_id}/pause": {"post"},
    "/v1/fine_tuning/jobs/{job_id}/resume": {"post"},
    "/v1/fine_tuning/jobs/{job_id}/events": {"get"},
    "/v1/fine_tuning/jobs/{job_id}/checkpoints": {"get"},
    "/v1/files": {"get", "post"},
    "/v1/files/{file_id}": {"get", "delete"},
    "/v1/files/{file_id}/content": {"get"},
    "/v1/chat/completions": {"post"},
}
SCHEMAS = {
    "Problem",
    "InteractionIn",
    "Interaction",
    "InteractionBatchIn",
    "BatchCreated",
    "InteractionPage",
    "InteractionStats",
    "InteractionPatch",
    "ScoreIn",
    "Score",
    "Deleted",
    "InteractionEvent",
    "InteractionEventPage",
    "JobIn",
    "EvaluationIn",
    "PromoteRule",
    "CasePage",
    "Case",
    "JobComparison",
    "ConfigDifference",
    "MetricDelta",
    "TaskDelta",
    "ComparedCase",
    "Promotion",
    "Calibration",
    "OutOfScope",
    "Hyperparameters",
    "EvalCase",
    "Job",
    "JobPage",
    "JobResult",
    "JobError",
    "Progress",
    "Event",
    "EventPage",
    "Model",
    "ModelList",
    "ResponseIn",
    "Response",
    "WebhookIn",
    "Webhook",
    "WebhookCreated",
    "WebhookPage",
    "WebhookDeleted",
    "WebhookDelivery",
    "WebhookDeliveryPage",
    "WebhookAttempt",
}
REQUEST_BODIES = {
    ("/v1/interactions", "post"): "InteractionIn",
    ("/v1/interactions/batch", "post"): "InteractionBatchIn",
    ("/v1/interactions/{interaction_id}", "patch"): "InteractionPatch",
    ("/v1/interactions/{interaction_id}/scores", "post"): "ScoreIn",
    ("/v1/jobs", "post"): "JobIn",
    ("/v1/evaluations", "post"): "EvaluationIn",
    ("/v1/models/{model_id}/responses", "post"): "ResponseIn",
    ("/v1/webhooks", "post"): "WebhookIn",
}
OPERATION_IDS = {
    ("/healthz", "get"): "healthz",
    ("/readyz", "get"): "readyz",
    ("/v1/interactions", "get"): "interactions_list",
    ("/v1/interactions", "post"): "interactions_create",
    ("/v1/interactions/batch", "post"): "interactions_batch",
    ("/v1/interactions/stats", "get"): "interactions_stats",
    ("/v1/interactions/{interaction_id}", "get"): "interactions_get",
    ("/v1/interactions/{interaction_id}", "patch"): "interactions_update",
    ("/v1/interactions/{interaction_id}", "delete"): "interactions_delete",
    ("/v1/interactions/{interaction_id}/scores", "post"): "interactions_scores",
    ("/v1/interactions/{interaction_id}/events", "get"): "interactions_events",
    ("/v1/jobs", "get"): "jobs_list",
    ("/v1/jobs", "post"): "jobs_create",
    ("/v1/jobs/{job_id}", "get"): "jobs_get",
    ("/v1/jobs/{job_id}", "delete"): "jobs_delete",
    ("/v1/jobs/{job_id}/cancel", "post"): "jobs_cancel",
    ("/v1/jobs/{job_id}/pause", "post"): "jobs_pause",
    ("/v1/jobs/{job_id}/resume", "post"): "jobs_resume",
    ("/v1/jobs/{job_id}/events", "get"): "jobs_events",
    ("/v1/jobs/{job_id}/training_file", "get"): "jobs_training_file",
    ("/v1/jobs/{job_id}/cases", "get"): "jobs_cases",
    ("/v1/jobs/{job_id}/compare", "get"): "jobs_compare",
    ("/v1/jobs/{job_id}/report.md", "get"): "jobs_report_markdown",
    ("/v1/evaluations", "post"): "evaluations_create",
    ("/v1/models", "get"): "models_list",
    ("/v1/usage", "get"): "usage_list",
    ("/v1/autopilots", "get"): "autopilots_list",
    ("/v1/autopilots", "post"): "autopilots_create",
    ("/v1/autopilots/{autopilot_id}", "get"): "autopilots_get",
    ("/v1/autopilots/{autopilot_id}", "delete"): "autopilots_delete",
    ("/v1/autopilots/{autopilot_id}/pause", "post"): "autopilots_pause",
    ("/v1/autopilots/{autopilot_id}/resume", "post"): "autopilots_resume",
    ("/v1/models/{model_id}", "get"): "models_get",
    ("/v1/models/{model_id}", "delete"): "models_delete",
    ("/v1/models/{model_id}/responses", "post"): "models_responses",
    ("/v1/models/{model_id}/content", "get"): "models_content",
    ("/v1/webhooks", "get"): "webhooks_list",
    ("/v1/webhooks", "post"): "webhooks_create",
    ("/v1/webhooks/{webhook_id}", "get"): "webhooks_get",
    ("/v1/webhooks/{webhook_id}", "delete"): "webhooks_delete",
    ("/v1/webhooks/{webhook_id}/deliveries", "get"): "webhooks_deliveries",
    ("/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", "post"): (
        "webhooks_deliveries_redeliver"
    ),
    # The OpenAI-compatible routes: the names of the openai SDK's methods.
    ("/v1/fine_tuning/jobs", "post"): "fine_tuning_jobs_create",
    ("/v1/fine_tuning/jobs", "get"): "fine_tuning_jobs_list",
    ("/v1/fine_tuning/jobs/{job_id}", "get"): "fine_tuning_jobs_retrieve",
    ("/v1/fine_tuning/jobs/{job_id}/cancel", "post"): "fine_tuning_jobs_cancel",
    ("/v1/fine_tuning/jobs/{job_id}/pause", "post"): "fine_tuning_jobs_pause",
    ("/v1/fine_tuning/jobs/{job_id}/resume", "post"): "fine_tuning_jobs_resume",
    ("/v1/fine_tuning/jobs/{job_id}/events", "get"): "fine_tuning_jobs_list_events",
    ("/v1/fine_tuning/jobs/{job_id}/checkpoints", "get"): "fine_tuning_jobs_checkpoints_list",
    ("/v1/files", "post"): "files_create",
    ("/v1/files", "get"): "files_list",
    ("/v1/files/{file_id}", "get"): "files_retrieve",
    ("/v1/files/{file_id}", "delete"): "files_delete",
    ("/v1/files/{file_id}/content", "get"): "files_content",
    ("/v1/chat/completions", "post"): "chat_completions_create",
}
OPENAI_ROUTES = ("/v1/fine_tuning/", "/v1/files", "/v1/chat/")
# Fields every job response has (null where the schema allows it), whatever its kind or status.
JOB_FIELDS = {
    "id",
    "object",
    "kind",
    "status",
    "stage",
    "progress",
    "created_at",
    "started_at",
    "finished_at",
    "model_id",
    "hyperparameters",
    "request",
    "result",
    "error",
    "deliveries",
    "autopilot_id",
}
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}
UNDOCUMENTED = {"static", "docs_static", "site_root"}  # file serving, the root's redirect
NOT_API = ("api-docs.", "pages.")  # blueprints of HTML: the docs and the report pages


@pytest.fixture(scope="module")
def spec(anon: ApiClient) -> dict:
    response = anon.get("/openapi.json")
    assert response.status_code == 200, response.text[:300]
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()


def refs(node: object) -> set[str]:
    """Every $ref in a JSON document."""
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(refs(v) for v in node))
    return set()


def patterns(node: object) -> set[str]:
    """Every JSON Schema pattern in a JSON document."""
    if isinstance(node, dict):
        found = {node["pattern"]} if isinstance(node.get("pattern"), str) else set()
        return found.union(*(patterns(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(patterns(v) for v in node))
    return set()


def test_the_document_is_openapi_3_1_with_a_bearer_scheme(spec: dict) -> None:
    assert spec["openapi"] == "3.1.0"
    assert spec["info"]["title"] == "Tuneloop" and spec["info"]["version"] == "v1"
    assert spec["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    assert {"bearer": []} in spec["security"]


def test_every_endpoint_and_method_is_documented(spec: dict) -> None:
    documented = {
        path: {m for m in item if m in HTTP_METHODS} for path, item in spec["paths"].items()
    }
    assert documented == EXPECTED


def test_every_route_the_gateway_serves_is_in_the_document(spec: dict, stack: Stack) -> None:
    app = create_app(settings=Settings(redis_url=stack.redis_url, api_key=stack.api_key))
    served: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in UNDOCUMENTED or rule.endpoint.startswith(NOT_API):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        served.setdefault(path, set()).update(
            m.lower() for m in rule.methods or () if m.lower() in HTTP_METHODS
        )
    assert served == EXPECTED


def test_the_schemas_are_components_and_every_reference_resolves(spec: dict) -> None:
    components = spec["components"]
    assert set(components["schemas"]) >= SCHEMAS
    for ref in refs(spec):
        assert ref.startswith("#/components/"), ref
        _, _, kind, name = ref.split("/", 3)
        assert name in components[kind], f"dangling reference {ref}"


def test_request_bodies_reference_their_input_schemas(spec: dict) -> None:
    for (path, method), schema in REQUEST_BODIES.items():
        body = spec["paths"][path][method]["requestBody"]
        assert body["required"] is True
        ref = body["content"]["application/json"]["schema"]["$ref"]
        assert ref == f"#/components/schemas/{schema}", (path, method)


def test_the_interaction_schema_documents_its_limits(spec: dict) -> None:
    schema = spec["components"]["schemas"]["InteractionIn"]
    assert set(schema["required"]) == {"input", "output", "rating", "task_type"}
    props = schema["properties"]
    assert props["rating"]["minimum"] == 0 and props["rating"]["maximum"] == 1
    assert props["input"]["maxLength"] == 4000 and props["input"]["minLength"] == 1
    assert props["task_type"]["maxLength"] == 64
    assert set(props["source"]["enum"]) == {"human", "synthetic", "import"}
    batch = spec["components"]["schemas"]["InteractionBatchIn"]["properties"]["items"]
    assert batch["minItems"] == 1 and batch["maxItems"] == 1000
    eval_set = spec["components"]["schemas"]["JobIn"]["properties"]["eval_set"]
    assert eval_set["maxItems"] == 10_000


def test_list_parameters_are_documented_with_their_bounds(spec: dict) -> None:
    def params(path: str) -> dict:
        return {p["name"]: p for p in spec["paths"][path]["get"].get("parameters", [])}

    interactions = params("/v1/interactions")
    assert set(interactions) == {
        "limit",
        "after",
        "task_type",
        "min_rating",
        "max_rating",
        "model",
        "q",
        "source",
        "score",
        "min_score",
        "max_score",
        "created_after",
        "created_before",
    }
    assert interactions["limit"]["schema"]["maximum"] == 1000
    for bound in ("min_rating", "max_rating", "min_score", "max_score"):
        schema = interactions[bound]["schema"]
        assert (schema["minimum"], schema["maximum"]) == (0, 1), bound
    assert interactions["q"]["schema"]["maxLength"] == 200
    assert set(interactions["source"]["schema"]["enum"]) == {"human", "synthetic", "import"}
    for moment in ("created_after", "created_before"):
        assert "ISO 8601" in interactions[moment]["description"], moment
    listing = spec["paths"]["/v1/interactions"]["get"]["responses"]
    assert "400" in listing, "the refusal of an unknown parameter is documented"
    page = spec["components"]["schemas"]["InteractionPage"]["properties"]
    assert "next_after" in page
    assert params("/v1/jobs")["limit"]["schema"]["maximum"] == 100
    assert set(params("/v1/jobs/{job_id}/events")) >= {"after", "limit"}
    assert set(params("/v1/webhooks")) >= {"after", "limit"}
    assert set(params("/v1/webhooks/{webhook_id}/deliveries")) >= {"after", "limit"}
    for path in ("/v1/jobs", "/v1/models", "/v1/autopilots", "/v1/webhooks"):  # short ids
        prefix = params(path)["id_prefix"]
        assert prefix["in"] == "query" and prefix["schema"]["maxLength"] == 64, prefix
        assert "git" in prefix["description"], prefix


def test_a_webhooks_events_are_documented_with_every_type(spec: dict) -> None:
    events = spec["components"]["schemas"]["WebhookIn"]["properties"]["events"]
    assert set(events["items"]["enum"]) == {*EVENT_TYPES, "*"}
    created = spec["components"]["schemas"]["WebhookCreated"]["properties"]
    assert "secret" in created
    assert "secret" not in spec["components"]["schemas"]["Webhook"]["properties"]


def test_public_endpoints_are_documented_as_needing_no_key(spec: dict) -> None:
    for path in ("/healthz", "/readyz"):
        assert spec["paths"][path]["get"].get("security") == [], path


def test_error_responses_are_documented_as_problem_json(spec: dict) -> None:
    for name, response in spec["components"]["responses"].items():
        assert set(response["content"]) == {"application/problem+json"}, name


def test_documented_patterns_use_only_ecma_262_syntax(spec: dict) -> None:
    python_only = re.compile(r"\\[AZ]|\(\?P<|\(\?#")
    assert {p for p in patterns(spec) if python_only.search(p)} == set()


def test_every_operation_has_a_unique_readable_operation_id(spec: dict) -> None:
    ids = {
        (path, method): operation.get("operationId")
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }
    assert ids == OPERATION_IDS  # stable: clients generate method names from them
    assert len(set(ids.values())) == len(ids)


def test_every_route_with_a_path_parameter_documents_its_404(spec: dict) -> None:
    routes = [(p, m, op) for p, item in spec["paths"].items() for m, op in item.items()]
    with_params = [(p, m, op) for p, m, op in routes if "{" in p and m in HTTP_METHODS]
    assert len(with_params) == 36
    for path, method, operation in with_params:
        response = operation["responses"].get("404")
        assert response is not None, (path, method)
        assert response["description"].startswith("no "), (path, method, response)
        if path.startswith(OPENAI_ROUTES):
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/OpenAIError"}, (path, method)
        else:
            schema = response["content"]["application/problem+json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Problem"}, (path, method)


def test_the_openai_routes_document_every_error_in_openai_shape(spec: dict) -> None:
    routes = [
        (path, method, operation)
        for path, item in spec["paths"].items()
        if path.startswith(OPENAI_ROUTES)
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]
    assert len(routes) == 14
    for path, method, operation in routes:
        errors = {s: r for s, r in operation["responses"].items() if s[0] in "45"}
        assert "401" in errors, (path, method, sorted(errors))
        for status, response in errors.items():
            assert set(response["content"]) == {"application/json"}, (path, method, status)


def test_the_training_file_is_documented_as_json_lines(spec: dict) -> None:
    responses = spec["paths"]["/v1/jobs/{job_id}/training_file"]["get"]["responses"]
    assert set(responses["200"]["content"]) == {"application/jsonl"}
    assert responses["200"]["content"]["application/jsonl"]["schema"]["type"] == "string"


def test_the_job_schema_lists_the_fields_every_job_has_as_required(spec: dict) -> None:
    schemas = spec["components"]["schemas"]
    assert set(schemas["Job"]["required"]) == JOB_FIELDS
    assert set(schemas["Progress"]["required"]) == {"current", "total", "percent"}
    assert set(schemas["JobError"]["required"]) == {"code", "message", "stage"}
    assert set(schemas["JobPage"]["required"]) == {"data", "has_more"}
    assert set(schemas["Event"]["required"]) >= {"id", "created_at", "type", "message"}


def test_the_interaction_schemas_list_the_fields_every_answer_has_as_required(
    spec: dict,
) -> None:
    schemas = spec["components"]["schemas"]
    assert set(schemas["Interaction"]["required"]) == {
        "id",
        "object",
        "created_at",
        "updated_at",
        "scores",
        "input",
        "output",
        "rating",
        "task_type",
        "model",  # null when the interaction names none
    }
    assert "null" in schemas["Interaction"]["properties"]["model"]["type"]
    assert set(schemas["Score"]["required"]) == {
        "name",
        "value",
        "source",
        "comment",
        "created_at",
    }
    assert set(schemas["ScoreIn"]["required"]) == {"name", "value", "source"}
    assert set(schemas["Deleted"]["required"]) == {"id", "object", "deleted"}
    assert set(schemas["InteractionEvent"]["required"]) == {
        "id",
        "object",
        "type",
        "actor",
        "created_at",
        "changes",
    }
    assert set(schemas["InteractionEventPage"]["required"]) == {"data", "has_more"}
    assert schemas["InteractionPatch"].get("required", []) == []


def test_input_schemas_still_require_only_what_they_did(spec: dict) -> None:
    schemas = spec["components"]["schemas"]
    assert set(schemas["JobIn"].get("required", [])) == set()
    assert set(schemas["EvaluationIn"].get("required", [])) == {"eval_set"}
    assert set(schemas["ResponseIn"]["required"]) == {"input"}


def test_real_jobs_of_both_kinds_match_the_documented_job_schema(
    spec: dict, client: ApiClient, stack: Stack
) -> None:
    validator = jsonschema_rs.Draft202012Validator(
        {"$ref": "#/components/schemas/Job", "components": spec["components"]}
    )
    seed_interactions(client)
    created = client.get(f"/v1/jobs/{create_job(client, n_epochs=2)}").json()
    succeeded = wait_for_job(client, stack, created["id"])
    case = {"input": "Will it rain in Oslo?", "expected_type": "weather"}
    body = {"model": succeeded["model_id"], "eval_set": [case]}
    evaluation = client.post("/v1/evaluations", json=body)
    assert evaluation.status_code == 202, evaluation.text
    jobs = {
        "queued or running": created,
        "succeeded": succeeded,
        "evaluation": wait_for_job(client, stack, evaluation.json()["id"]),
    }
    for name, job in jobs.items():
        errors = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(job)]
        assert errors == [], (name, errors[:5])
        assert set(job) >= JOB_FIELDS, name


def test_max_in_scope_loss_and_the_tradeoff_curves_are_documented(spec: dict) -> None:
    schemas = spec["components"]["schemas"]
    limit = schemas["JobIn"]["properties"]["max_in_scope_loss"]
    assert (limit["type"], limit["default"], limit["minimum"], limit["maximum"]) == (
        "number",
        0.02,
        0,
        1,
    )
    assert "out-of-scope recall" in limit["description"]
    for name in ("JobAbstention", "OutOfScope"):
        curve = schemas[name]["properties"]["curve"]
        assert curve["items"]["$ref"].endswith("/TradeoffPoint"), (name, curve)
    point = schemas["TradeoffPoint"]["properties"]
    assert set(point) == {"threshold", "in_scope_accuracy", "out_of_scope_recall", "in_scope_loss"}
    assert "max_in_scope_loss" in schemas["JobAbstention"]["properties"]


def test_the_job_read_documents_its_etag_and_304(spec: dict) -> None:
    read = spec["paths"]["/v1/jobs/{job_id}"]["get"]
    assert "ETag" in read["responses"]["200"]["headers"]
    assert "304" in read["responses"]
    assert "If-None-Match" in {p["name"] for p in read["parameters"] if p["in"] == "header"}


def test_the_cases_outcome_lists_wrong_and_the_count_is_documented(spec: dict) -> None:
    params = spec["paths"]["/v1/jobs/{job_id}/cases"]["get"]["parameters"]
    outcome = next(p for p in params if p["name"] == "outcome")
    assert outcome["schema"]["enum"] == ["regressed", "improved", "wrong"]
    assert "whatever the baseline did" in outcome["description"]
    counts = spec["components"]["schemas"]["CasesCount"]["properties"]
    assert set(counts) == {"regressed", "improved", "wrong"}
