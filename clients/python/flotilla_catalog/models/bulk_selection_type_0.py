from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="BulkSelectionType0")


@_attrs_define
class BulkSelectionType0:
    """
    Attributes:
        consumer (str): Every dead letter of this consumer (`<service>.<consumer>`).
        all_ (bool | Unset):
    """

    consumer: str
    all_: bool | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        consumer = self.consumer

        all_ = self.all_

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "consumer": consumer,
            }
        )
        if all_ is not UNSET:
            field_dict["all"] = all_

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        consumer = d.pop("consumer")

        all_ = d.pop("all", UNSET)

        bulk_selection_type_0 = cls(
            consumer=consumer,
            all_=all_,
        )

        return bulk_selection_type_0
