from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.trace_summary import TraceSummary


T = TypeVar("T", bound="TraceList")


@_attrs_define
class TraceList:
    """The traces in the buffer.

    Example:
        {'traces': [{'duration_ms': 38.4, 'error': False, 'root': 'POST /api/v1/catalog/products', 'services':
            ['gateway', 'catalog', 'basket'], 'spans': 9, 'started_at': '2026-12-01T19:47:46.120Z', 'trace_id':
            '4bf92f3577b34da6a3ce929d0e0e4736'}]}

    Attributes:
        traces (list[TraceSummary]): Newest first.
    """

    traces: list[TraceSummary]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        traces = []
        for traces_item_data in self.traces:
            traces_item = traces_item_data.to_dict()
            traces.append(traces_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "traces": traces,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.trace_summary import TraceSummary

        d = dict(src_dict)
        traces = []
        _traces = d.pop("traces")
        for traces_item_data in _traces:
            traces_item = TraceSummary.from_dict(traces_item_data)

            traces.append(traces_item)

        trace_list = cls(
            traces=traces,
        )

        trace_list.additional_properties = d
        return trace_list

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
