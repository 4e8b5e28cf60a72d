from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="PublishedEvent")


@_attrs_define
class PublishedEvent:
    """A message type this service publishes.

    Example:
        {'schema': '/events/flotilla.catalog.product-created.v1/schema', 'summary': 'A product was added to the
            catalogue', 'type': 'flotilla.catalog.product-created.v1'}

    Attributes:
        schema (str): Where its JSON Schema is served.
        summary (str): What happened when this message is published.
        type_ (str): The CloudEvents `type`; its last segment is the contract's major version. Example:
            flotilla.catalog.product-created.v1.
    """

    schema: str
    summary: str
    type_: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        schema = self.schema

        summary = self.summary

        type_ = self.type_

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "schema": schema,
                "summary": summary,
                "type": type_,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        schema = d.pop("schema")

        summary = d.pop("summary")

        type_ = d.pop("type")

        published_event = cls(
            schema=schema,
            summary=summary,
            type_=type_,
        )

        published_event.additional_properties = d
        return published_event

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
