from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.span_view_attributes import SpanViewAttributes


T = TypeVar("T", bound="SpanView")


@_attrs_define
class SpanView:
    """One operation of a trace, as OpenTelemetry records it.

    Attributes:
        attributes (SpanViewAttributes): OpenTelemetry semantic-convention attributes (`http.route`,
            `messaging.destination.name`, ...).
        duration_us (int): How long it took, in microseconds.
        kind (str): OpenTelemetry span kind: server, client, producer, consumer or internal.
        name (str): What it did, by OpenTelemetry's naming (`GET /api/v1/catalog/products/{id}`, `send catalog.product-
            created`).
        offset_us (int): Microseconds from the trace's earliest start.
        service (str): The service that recorded it.
        span_id (str): The span's id: 16 lower-case hexadecimal digits.
        start (str): RFC 3339, UTC, to the nanosecond.
        status (str): unset, ok or error.
        parent_span_id (None | str | Unset): Absent for the trace's entry span.
        status_message (None | str | Unset): Why it failed, when its status is error.
    """

    attributes: SpanViewAttributes
    duration_us: int
    kind: str
    name: str
    offset_us: int
    service: str
    span_id: str
    start: str
    status: str
    parent_span_id: None | str | Unset = UNSET
    status_message: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        attributes = self.attributes.to_dict()

        duration_us = self.duration_us

        kind = self.kind

        name = self.name

        offset_us = self.offset_us

        service = self.service

        span_id = self.span_id

        start = self.start

        status = self.status

        parent_span_id: None | str | Unset
        if isinstance(self.parent_span_id, Unset):
            parent_span_id = UNSET
        else:
            parent_span_id = self.parent_span_id

        status_message: None | str | Unset
        if isinstance(self.status_message, Unset):
            status_message = UNSET
        else:
            status_message = self.status_message

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "attributes": attributes,
                "duration_us": duration_us,
                "kind": kind,
                "name": name,
                "offset_us": offset_us,
                "service": service,
                "span_id": span_id,
                "start": start,
                "status": status,
            }
        )
        if parent_span_id is not UNSET:
            field_dict["parent_span_id"] = parent_span_id
        if status_message is not UNSET:
            field_dict["status_message"] = status_message

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.span_view_attributes import SpanViewAttributes

        d = dict(src_dict)
        attributes = SpanViewAttributes.from_dict(d.pop("attributes"))

        duration_us = d.pop("duration_us")

        kind = d.pop("kind")

        name = d.pop("name")

        offset_us = d.pop("offset_us")

        service = d.pop("service")

        span_id = d.pop("span_id")

        start = d.pop("start")

        status = d.pop("status")

        def _parse_parent_span_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        parent_span_id = _parse_parent_span_id(d.pop("parent_span_id", UNSET))

        def _parse_status_message(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        status_message = _parse_status_message(d.pop("status_message", UNSET))

        span_view = cls(
            attributes=attributes,
            duration_us=duration_us,
            kind=kind,
            name=name,
            offset_us=offset_us,
            service=service,
            span_id=span_id,
            start=start,
            status=status,
            parent_span_id=parent_span_id,
            status_message=status_message,
        )

        span_view.additional_properties = d
        return span_view

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
