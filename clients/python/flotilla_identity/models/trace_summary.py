from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="TraceSummary")


@_attrs_define
class TraceSummary:
    """A trace as the buffer holds it, newest first in a listing.

    Attributes:
        duration_ms (float): From the earliest start to the latest end, in milliseconds.
        error (bool): Whether any span failed.
        root (str): The span without a parent here (the trace's entry), or the earliest span when its parent
            is elsewhere. Example: POST /api/v1/catalog/products.
        services (list[str]): Every service with a span in it, in order of first appearance.
        spans (int): How many of its spans this process keeps.
        started_at (str): RFC 3339, UTC: when its earliest span started.
        trace_id (str): The W3C trace id: 32 lower-case hexadecimal digits. Example: 4bf92f3577b34da6a3ce929d0e0e4736.
    """

    duration_ms: float
    error: bool
    root: str
    services: list[str]
    spans: int
    started_at: str
    trace_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        duration_ms = self.duration_ms

        error = self.error

        root = self.root

        services = self.services

        spans = self.spans

        started_at = self.started_at

        trace_id = self.trace_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "duration_ms": duration_ms,
                "error": error,
                "root": root,
                "services": services,
                "spans": spans,
                "started_at": started_at,
                "trace_id": trace_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        duration_ms = d.pop("duration_ms")

        error = d.pop("error")

        root = d.pop("root")

        services = cast(list[str], d.pop("services"))

        spans = d.pop("spans")

        started_at = d.pop("started_at")

        trace_id = d.pop("trace_id")

        trace_summary = cls(
            duration_ms=duration_ms,
            error=error,
            root=root,
            services=services,
            spans=spans,
            started_at=started_at,
            trace_id=trace_id,
        )

        trace_summary.additional_properties = d
        return trace_summary

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
