from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="VersionInfo")


@_attrs_define
class VersionInfo:
    """Which build of which service answers.

    Example:
        {'api_version': '1.0.0', 'build_time': '2026-12-01T19:47:46Z', 'git_commit': '904b99a1c2d3',
            'message_contracts': ['flotilla.catalog.product-created.v1', 'flotilla.catalog.product-updated.v1'], 'product':
            'flotilla', 'product_version': '0.1.0', 'service': 'catalog', 'service_version': '0.1.0'}

    Attributes:
        api_version (str): The version of the service's API contract, as its OpenAPI document's `info.version`.
        build_time (str): When it was built (RFC 3339, UTC), or `unknown`.
        git_commit (str): The source revision it was built from, or `unknown`.
        message_contracts (list[str]): The message types it publishes (CloudEvents `type`), each ending in its
            contract's major
            version; empty for a service that publishes none.
        product (str): The product the service belongs to.
        product_version (str): The product's release (SemVer).
        service (str): The service's name.
        service_version (str): The service's own version (SemVer).
    """

    api_version: str
    build_time: str
    git_commit: str
    message_contracts: list[str]
    product: str
    product_version: str
    service: str
    service_version: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        api_version = self.api_version

        build_time = self.build_time

        git_commit = self.git_commit

        message_contracts = self.message_contracts

        product = self.product

        product_version = self.product_version

        service = self.service

        service_version = self.service_version

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "api_version": api_version,
                "build_time": build_time,
                "git_commit": git_commit,
                "message_contracts": message_contracts,
                "product": product,
                "product_version": product_version,
                "service": service,
                "service_version": service_version,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        api_version = d.pop("api_version")

        build_time = d.pop("build_time")

        git_commit = d.pop("git_commit")

        message_contracts = cast(list[str], d.pop("message_contracts"))

        product = d.pop("product")

        product_version = d.pop("product_version")

        service = d.pop("service")

        service_version = d.pop("service_version")

        version_info = cls(
            api_version=api_version,
            build_time=build_time,
            git_commit=git_commit,
            message_contracts=message_contracts,
            product=product,
            product_version=product_version,
            service=service,
            service_version=service_version,
        )

        version_info.additional_properties = d
        return version_info

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
