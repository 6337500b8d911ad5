"""Schemas of the promotion gate: the rules a job may carry (promote_if) and its verdict."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from tuneloop.report_metrics import HEADLINE, LANGUAGE_GATE
from tuneloop.schemas.common import StrictBoolean, StrictFloat

# The report's metrics a rule may name: the stand-in agent's (fractions in [0, 1]) and a
# language model's (nll_reduction in nats, preference_accuracy a fraction).
PROMOTION_METRICS = HEADLINE + LANGUAGE_GATE
RULE_KINDS = ("min_delta", "min_value")
BOUNDS = ("point", "lower_ci95")


def known_metric(value: str) -> None:
    """Reject a metric name the gate cannot read from a report."""
    if value not in PROMOTION_METRICS:
        raise ValidationError(f"unknown metric {value!r}; known: {', '.join(PROMOTION_METRICS)}")


class PromoteRuleSchema(Schema):
    """One condition for promotion: a least value of a metric, or a least change over baseline."""

    metric = fields.String(
        required=True,
        validate=known_metric,
        metadata={"enum": list(PROMOTION_METRICS), "description": "the metric the rule reads"},
    )
    min_delta = StrictFloat(
        allow_nan=False,
        validate=validate.Range(-1, 1),
        metadata={
            "description": "least change fine-tuned minus baseline (improvement.<metric>"
            ".absolute); negative: the regression tolerated"
        },
    )
    min_value = StrictFloat(
        allow_nan=False,
        validate=validate.Range(0, 1),
        metadata={"description": "least fine-tuned value (fine_tuned_metrics.<metric>)"},
    )
    use_lower_bound = StrictBoolean(
        load_default=False,
        metadata={
            "description": "compare the lower end of the value's 95% confidence interval "
            "instead of the value itself"
        },
    )

    @validates_schema
    def _exactly_one_threshold(self, data: dict, **kwargs: object) -> None:
        given = [kind for kind in RULE_KINDS if kind in data]
        if len(given) == 2:
            raise ValidationError("give exactly one of min_delta or min_value, not both")
        if not given:
            raise ValidationError("give exactly one of min_delta or min_value (neither given)")


class PromotionCheckSchema(Schema):
    """One rule checked against the report."""

    metric = fields.String()
    rule = fields.String(metadata={"enum": list(RULE_KINDS)})
    threshold = fields.Float()
    bound = fields.String(
        metadata={
            "enum": list(BOUNDS),
            "description": "point: the value itself; lower_ci95: its 95% interval's lower end",
        }
    )
    observed = fields.Float(
        allow_none=True,
        metadata={"description": "what the report shows; null when this evaluation has none"},
    )
    passed = fields.Boolean()


class PromotionSchema(Schema):
    """Whether the job's model was promoted, and why (a failed gate does not fail the job)."""

    promoted = fields.Boolean()
    alias = fields.String(
        allow_none=True,
        metadata={"description": "the alias now naming the model (null when not promoted)"},
    )
    checks = fields.List(fields.Nested(PromotionCheckSchema))
    reason = fields.String(metadata={"description": "the outcome in one plain sentence"})
