"""PrototypeFields: shallow copies of per-class field prototypes behave as DRF's deep copies."""

from __future__ import annotations

import threading

from rest_framework import serializers

from gateway.fields import PrototypeFields, StrictCharField


class Item(PrototypeFields, serializers.Serializer):
    name = StrictCharField(max_length=5)
    size = serializers.IntegerField(min_value=1)


class Order(PrototypeFields, serializers.Serializer):
    ref = StrictCharField(max_length=8)
    items = Item(many=True)
    tags = serializers.ListField(child=StrictCharField(max_length=3), required=False)
    note = Item(required=False)


def test_each_serializer_binds_its_own_fields_and_the_prototypes_stay_unbound():
    first, second = Order(data={}), Order(data={})
    assert first.fields["ref"] is not second.fields["ref"]
    assert (first.fields["ref"].parent, second.fields["ref"].parent) == (first, second)
    assert all(field.parent is None for field in Order._field_prototypes.values())


def test_validation_and_its_errors_are_those_of_drf():
    good = {"ref": "A1", "items": [{"name": "ab", "size": 2}], "tags": ["x"], "note": None}
    good.pop("note")
    order = Order(data=good)
    assert order.is_valid(), order.errors
    assert order.validated_data["items"][0] == {"name": "ab", "size": 2}
    bad = Order(data={"ref": 5, "items": [{"name": "toolong", "size": 0}], "tags": ["long"]})
    assert not bad.is_valid()
    assert set(bad.errors) == {"ref", "items", "tags"}
    assert set(bad.errors["items"][0]) == {"name", "size"}
    assert Order(data={"ref": "A2", "items": []}).is_valid()  # the last errors left nothing behind


def test_many_threads_validating_at_once_each_get_their_own_answer():
    start = threading.Barrier(16)
    wrong: list[object] = []

    def validate(i: int) -> None:
        start.wait()
        for n in range(200):
            size = (i * 1000 + n) % 7  # 0 is refused
            order = Order(data={"ref": f"r{i}", "items": [{"name": "a", "size": size}]})
            valid = order.is_valid()
            if valid != (size > 0) or (valid and order.validated_data["ref"] != f"r{i}"):
                wrong.append((i, n, order.errors))

    threads = [threading.Thread(target=validate, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
