from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="BulkSelectionType1")


@_attrs_define
class BulkSelectionType1:
    """
    Attributes:
        all_ (bool): Every dead letter of every consumer.
        consumer (None | Unset):
    """

    all_: bool
    consumer: None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        all_ = self.all_

        consumer = self.consumer

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "all": all_,
            }
        )
        if consumer is not UNSET:
            field_dict["consumer"] = consumer

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        all_ = d.pop("all")

        consumer = d.pop("consumer", UNSET)

        bulk_selection_type_1 = cls(
            all_=all_,
            consumer=consumer,
        )

        return bulk_selection_type_1
