"""Serializer fields shared by the API's input serializers."""

from __future__ import annotations

import copy
import math
import re
import threading
from typing import Any

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A CharField that accepts only JSON strings (DRF's turns 5 or true into "5" or "True")."""

    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class StrictDateField(serializers.DateField):
    """A DateField for `YYYY-MM-DD` only, as the schema's `format: date` says (DRF's also takes
    `2026-1-5`)."""

    default_error_messages = {"invalid": "Must be a date, YYYY-MM-DD."}

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str) or not _DATE.fullmatch(data):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictRegexField(StrictCharField, serializers.RegexField):
    """A RegexField for JSON strings only (DRF's matches 5 as "5")."""


class StrictFloatField(serializers.FloatField):
    """A FloatField for JSON numbers only: no strings, no booleans, no NaN or infinity."""

    default_error_messages = {"invalid": "Must be a finite number."}

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        try:
            finite = math.isfinite(data)  # an int past a float's range raises OverflowError
        except OverflowError:
            finite = False
        if not finite:
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """An IntegerField for JSON integers only: no strings ("5"), booleans or fractions (5.0)."""

    default_error_messages = {"invalid": "Must be a whole number."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A BooleanField for JSON true/false only (DRF's takes "yes", 1, "on" ...)."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


# Serializer mixin for hot paths: the declared fields are deep-copied once per class, and
# each serializer gets shallow copies of those unbound prototypes to bind.
#
# DRF deep-copies every declared field for every serializer instance (each copy runs the
# field's `__init__` again): 0.4 ms of the 0.7 ms that validating a send body took. Binding
# sets attributes on the copy only; what copies share (validators, choices, error messages,
# a ListField's child) is read-only once built. A child of a list field stays bound to the
# prototype, so its `context` is empty: fields that read `self.context` do not belong here.
# Put it first among the bases.
# (A comment, not a docstring: drf-spectacular would show a mixin's docstring as the
# description of every serializer that has none of its own.)
class PrototypeFields:
    _field_prototypes: dict[str, serializers.Field]
    _prototypes_lock = threading.Lock()

    def get_fields(self) -> dict[str, serializers.Field]:
        cls = type(self)
        prototypes = cls.__dict__.get("_field_prototypes")
        if prototypes is None:
            with PrototypeFields._prototypes_lock:
                prototypes = cls.__dict__.get("_field_prototypes")
                if prototypes is None:
                    prototypes = super().get_fields()  # type: ignore[misc]  # DRF's deep copy
                    cls._field_prototypes = prototypes
        return {name: copy.copy(field) for name, field in prototypes.items()}
