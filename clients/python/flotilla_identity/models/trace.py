from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.span_view import SpanView


T = TypeVar("T", bound="Trace")


@_attrs_define
class Trace:
    """One trace, its spans ordered by start: enough to draw a waterfall.

    Example:
        {'spans': [{'attributes': {'http.request.method': 'POST', 'http.response.status_code': 201, 'http.route':
            '/api/v1/{*path}'}, 'duration_us': 38412, 'kind': 'server', 'name': 'POST /api/v1/catalog/products',
            'offset_us': 0, 'parent_span_id': None, 'service': 'gateway', 'span_id': '00f067aa0ba902b7', 'start':
            '2026-12-01T19:47:46.120003511Z', 'status': 'unset', 'status_message': None}], 'trace_id':
            '4bf92f3577b34da6a3ce929d0e0e4736'}

    Attributes:
        spans (list[SpanView]): Ordered by start.
        trace_id (str): The W3C trace id: 32 lower-case hexadecimal digits.
    """

    spans: list[SpanView]
    trace_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        spans = []
        for spans_item_data in self.spans:
            spans_item = spans_item_data.to_dict()
            spans.append(spans_item)

        trace_id = self.trace_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "spans": spans,
                "trace_id": trace_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.span_view import SpanView

        d = dict(src_dict)
        spans = []
        _spans = d.pop("spans")
        for spans_item_data in _spans:
            spans_item = SpanView.from_dict(spans_item_data)

            spans.append(spans_item)

        trace_id = d.pop("trace_id")

        trace = cls(
            spans=spans,
            trace_id=trace_id,
        )

        trace.additional_properties = d
        return trace

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
