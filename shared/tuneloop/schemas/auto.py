"""Controls that take "auto" (chosen from the data at prepare) or a value."""

from marshmallow import ValidationError, fields

from tuneloop.graph import AUTO


class AutoOr(fields.Field):
    """Either the string "auto" (chosen from the data size at prepare) or a value of inner."""

    def __init__(self, inner: fields.Field, **kwargs: object) -> None:
        super().__init__(load_default=AUTO, **kwargs)
        self.inner = inner

    def _bind_to_schema(self, field_name: str, parent: object) -> None:
        super()._bind_to_schema(field_name, parent)
        self.inner._bind_to_schema(field_name, parent)

    def _deserialize(self, value: object, attr: str | None, data: object, **kwargs: object):
        if value == AUTO:
            return AUTO
        if isinstance(value, str):
            raise ValidationError(f'Must be "auto" or a number, not {value!r}.')
        value = self.inner.deserialize(value, attr, data, **kwargs)
        return value

    def _serialize(self, value: object, attr: str | None, obj: object, **kwargs: object):
        return value


def auto_or(inner: fields.Field, number: dict, description: str) -> AutoOr:
    """An "auto"-or-number control, documented as oneOf in OpenAPI."""
    one_of = [{"type": "string", "enum": [AUTO]}, number]
    return AutoOr(inner, metadata={"description": description, "oneOf": one_of})
