"""The new-job form's fields: the form's strings to a JobInSchema request and back (pure).

The form carries the request's main fields; the schema validates what it builds, so the
form's errors are the API's. Strings that are not numbers go to the schema as they are, which
names what is wrong with them.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tuneloop.schemas.promotion import PROMOTION_METRICS, RULE_KINDS

AUTO = "auto"
NEVER = "never"  # early_stopping_patience: null
MAX_RULES = 5  # promote_if rows the form offers (the API takes up to 20)


@dataclass(frozen=True)
class Field:
    """One input: its form name, the request path it fills and how its text is read."""

    name: str
    label: str
    path: tuple[str, ...]
    kind: str  # text, int, float, auto_int, auto_float, patience, list, bool, select
    hint: str = ""
    group: str = "Data"


FIELDS = (
    Field(
        "suffix",
        "Suffix",
        ("suffix",),
        "text",
        "a-z, 0-9 and -, up to 40: in the model id",
        "Model",
    ),
    Field("model", "Base model", ("model",), "select", "the model kind trained", "Model"),
    Field("method", "Method", ("method",), "select", "dpo: base language models only", "Model"),
    Field("min_score", "Min rating", ("min_score",), "float", "0-1; rows below are dropped"),
    Field("score_name", "Score", ("score_name",), "text", "rating, or a named score"),
    Field("task_types", "Task types", ("task_types",), "list", "comma-separated; empty: all"),
    Field(
        "include_synthetic", "Add the lab's 5 synthetic examples", ("include_synthetic",), "bool"
    ),
    Field(
        "holdout_fraction",
        "Holdout fraction",
        ("holdout_fraction",),
        "float",
        "(0, 0.9]; empty: 0.2 per task type, unless an eval set is asked for",
        "Evaluation",
    ),
    Field(
        "holdout_per_task",
        "Stratify the holdout per task type",
        ("holdout_per_task",),
        "bool",
        "",
        "Evaluation",
    ),
    Field(
        "lab_eval_set",
        "Also evaluate on the lab's 5 test cases",
        ("lab_eval_set",),
        "bool",
        "",
        "Evaluation",
    ),
    Field(
        "out_of_scope_task",
        "Out-of-scope task",
        ("out_of_scope_task",),
        "text",
        "answer as this task when unsure",
        "Evaluation",
    ),
    Field(
        "n_epochs",
        "Epochs",
        ("hyperparameters", "n_epochs"),
        "auto_int",
        "1-200 or auto",
        "Training",
    ),
    Field(
        "learning_rate",
        "Learning rate",
        ("hyperparameters", "learning_rate"),
        "auto_float",
        "(0, 10] or auto",
        "Training",
    ),
    Field(
        "batch_size",
        "Batch size",
        ("hyperparameters", "batch_size"),
        "auto_int",
        "1-4096 or auto",
        "Training",
    ),
    Field(
        "learning_rate_multiplier",
        "LR multiplier",
        ("hyperparameters", "learning_rate_multiplier"),
        "float",
        "scales an auto learning rate",
        "Training",
    ),
    Field("l2", "L2", ("hyperparameters", "l2"), "float", "0-1", "Training"),
    Field(
        "early_stopping_patience",
        "Early-stopping patience",
        ("hyperparameters", "early_stopping_patience"),
        "patience",
        "epochs, or never",
        "Training",
    ),
    Field("seed", "Seed", ("hyperparameters", "seed"), "int", "0-4294967295", "Training"),
)
GROUPS = ("Model", "Data", "Training", "Evaluation")
BY_NAME = {f.name: f for f in FIELDS}
RULE_PARTS = ("metric", "kind", "threshold", "lower")


def number(text: str, integer: bool) -> Any:
    """The text as an int or float when it is one, else as sent (the schema names the fault)."""
    for parse in (int, float) if integer else (float,):
        try:
            return parse(text)
        except ValueError:
            continue
    return text


def value_of(field: Field, text: str) -> Any:
    """The request value of one non-empty input."""
    if field.kind in ("auto_int", "auto_float") and text.lower() == AUTO:
        return AUTO
    if field.kind == "patience" and text.lower() == NEVER:
        return None
    if field.kind in ("int", "auto_int", "patience"):
        return number(text, integer=True)
    if field.kind in ("float", "auto_float"):
        return number(text, integer=False)
    if field.kind == "list":
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


def put(request: dict, path: tuple[str, ...], value: Any) -> None:
    """Set request[path...] = value, making the nested dicts on the way."""
    for part in path[:-1]:
        request = request.setdefault(part, {})
    request[path[-1]] = value


def to_request(form: Mapping[str, str]) -> dict:
    """The JSON request the form's inputs stand for (empty inputs left out: the defaults)."""
    request: dict = {}
    for field in FIELDS:
        text = (form.get(field.name) or "").strip()
        if field.kind == "bool":
            if text:
                put(request, field.path, True)
        elif field.name == "method":
            if text:
                request["method"] = {"type": text}
        elif text:
            put(request, field.path, value_of(field, text))
    if rules := promote_rules(form):
        request["promote_if"] = rules
    return request


def promote_rules(form: Mapping[str, str]) -> list[dict]:
    """The promote_if rules of the rows whose metric is chosen."""
    rules = []
    for i in range(MAX_RULES):
        metric = (form.get(f"promote_metric_{i}") or "").strip()
        if not metric:
            continue
        kind = (form.get(f"promote_kind_{i}") or RULE_KINDS[0]).strip()
        rule: dict = {"metric": metric, kind: number(form.get(f"promote_threshold_{i}", ""), False)}
        if form.get(f"promote_lower_{i}"):
            rule["use_lower_bound"] = True
        rules.append(rule)
    return rules


def text_of(field: Field, value: Any) -> str:
    """A stored request value as the form shows it."""
    if value is None:
        return NEVER if field.kind == "patience" else ""
    if field.kind == "bool":
        return "on" if value else ""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def from_request(request: Mapping[str, Any]) -> dict[str, str]:
    """The form's inputs filled from a stored job request (to clone it)."""
    values: dict[str, str] = {}
    for field in FIELDS:
        node: Any = request
        for part in field.path:
            node = node.get(part) if isinstance(node, Mapping) else None
        present = node is not None or (field.kind == "patience" and _has(request, field.path))
        if present:
            values[field.name] = text_of(field, node)
    for i, rule in enumerate((request.get("promote_if") or [])[:MAX_RULES]):
        kind = next((k for k in RULE_KINDS if k in rule), RULE_KINDS[0])
        values[f"promote_metric_{i}"] = rule.get("metric", "")
        values[f"promote_kind_{i}"] = kind
        values[f"promote_threshold_{i}"] = str(rule.get(kind, ""))
        values[f"promote_lower_{i}"] = "on" if rule.get("use_lower_bound") else ""
    return values


def _has(request: Mapping[str, Any], path: tuple[str, ...]) -> bool:
    """Whether the request has the path's key (with any value, null included)."""
    node: Any = request
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, Mapping) else None
    return isinstance(node, Mapping) and path[-1] in node


def not_carried(request: Mapping[str, Any]) -> list[str]:
    """The stored request's fields the form does not carry (a clone leaves them out)."""
    carried = {f.path[0] for f in FIELDS} | {"promote_if", "eval_set_size"}
    shown = [k for k, v in request.items() if k not in carried and v not in (None, [], {})]
    if request.get("eval_set_size"):
        shown.append(f"eval_set ({request['eval_set_size']} cases)")
    if len(request.get("promote_if") or []) > MAX_RULES:
        shown.append(f"promote_if rules after the first {MAX_RULES}")
    hyper = request.get("hyperparameters") or {}
    shown += [f"hyperparameters.{k}" for k in hyper if ("hyperparameters", k) not in PATHS]
    return sorted(shown)


PATHS = {f.path for f in FIELDS}


def flat_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """The schema's nested messages as {dotted.path: [messages]}."""
    if isinstance(messages, Mapping):
        found: dict[str, list[str]] = {}
        for key, inner in messages.items():
            found.update(flat_errors(inner, f"{prefix}.{key}" if prefix else str(key)))
        return found
    if isinstance(messages, list | tuple) and all(isinstance(m, str) for m in messages):
        return {prefix or "_schema": list(messages)}
    return {prefix or "_schema": [str(messages)]}


def placed(errors: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """The errors by the form input that shows them ("_form" for the rest)."""
    where: dict[str, list[str]] = {}
    by_path = {".".join(f.path): f.name for f in FIELDS}
    for key, messages in errors.items():
        name = _input_of(key, by_path)
        where.setdefault(name, []).extend(messages)
    return where


def _input_of(key: str, by_path: Mapping[str, str]) -> str:
    """The input that shows the error at a dotted key."""
    parts = key.split(".")
    if parts[0] == "promote_if" and len(parts) > 1 and parts[1].isdigit():
        return f"promote_{parts[1]}"
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in by_path:
            return by_path[".".join(parts[:end])]
    return "_form"


def rule_rows(values: Mapping[str, str]) -> Iterable[int]:
    """The promote_if rows to show: those filled, and one empty row more (up to MAX_RULES)."""
    filled = [i for i in range(MAX_RULES) if values.get(f"promote_metric_{i}")]
    return range(min(MAX_RULES, (max(filled) + 2) if filled else 1))


METRICS = PROMOTION_METRICS
