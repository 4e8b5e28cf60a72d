from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.price import Price
    from ..models.product_response_attributes import ProductResponseAttributes


T = TypeVar("T", bound="ProductResponse")


@_attrs_define
class ProductResponse:
    """A stored product.

    Example:
        {'attributes': {'diameter_cm': 26, 'dishwasher_safe': False, 'material': 'cast iron', 'weight_g': 2300},
            'category': 'kitchen', 'created_at': '2025-03-14T09:26:53.589412Z', 'description': 'Pre-seasoned cast-iron
            skillet with a helper handle and twin pouring lips.', 'id': '019593fa-5d95-7c4e-8a1f-3b6d9e2c7a10', 'image':
            '/images/products/kit-0001.jpg', 'name': 'Cast-Iron Skillet 26 cm', 'price': {'amount_minor': 3499, 'currency':
            'EUR'}, 'sku': 'KIT-0001', 'updated_at': '2025-05-02T16:41:07.305118Z', 'version': 3}

    Attributes:
        attributes (ProductResponseAttributes): Stock-independent properties by name: values are text, whole numbers or
            booleans.
        category (str): The category's slug: words of a-z and 0-9 joined by hyphens.
        created_at (datetime.datetime): When the product was created (RFC 3339, UTC).
        description (str): The long description; empty when the product has none.
        id (UUID): The product's id, assigned by the catalog when it was created.
        name (str): The name customers see.
        price (Price): A price in minor units (cents for EUR) of an ISO 4217 currency.
        sku (str): The stock-keeping unit, unique in the catalogue.
        updated_at (datetime.datetime): When the product last changed (RFC 3339, UTC); the creation time until then.
        version (int): Grows by one with every change; the ETag is this number in quotes.
        image (None | str | Unset): An absolute path or an https URL of the product's picture; null when it has none.
    """

    attributes: ProductResponseAttributes
    category: str
    created_at: datetime.datetime
    description: str
    id: UUID
    name: str
    price: Price
    sku: str
    updated_at: datetime.datetime
    version: int
    image: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        attributes = self.attributes.to_dict()

        category = self.category

        created_at = self.created_at.isoformat()

        description = self.description

        id = str(self.id)

        name = self.name

        price = self.price.to_dict()

        sku = self.sku

        updated_at = self.updated_at.isoformat()

        version = self.version

        image: None | str | Unset
        if isinstance(self.image, Unset):
            image = UNSET
        else:
            image = self.image

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "attributes": attributes,
                "category": category,
                "created_at": created_at,
                "description": description,
                "id": id,
                "name": name,
                "price": price,
                "sku": sku,
                "updated_at": updated_at,
                "version": version,
            }
        )
        if image is not UNSET:
            field_dict["image"] = image

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.price import Price
        from ..models.product_response_attributes import ProductResponseAttributes

        d = dict(src_dict)
        attributes = ProductResponseAttributes.from_dict(d.pop("attributes"))

        category = d.pop("category")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        description = d.pop("description")

        id = UUID(d.pop("id"))

        name = d.pop("name")

        price = Price.from_dict(d.pop("price"))

        sku = d.pop("sku")

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        version = d.pop("version")

        def _parse_image(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        image = _parse_image(d.pop("image", UNSET))

        product_response = cls(
            attributes=attributes,
            category=category,
            created_at=created_at,
            description=description,
            id=id,
            name=name,
            price=price,
            sku=sku,
            updated_at=updated_at,
            version=version,
            image=image,
        )

        product_response.additional_properties = d
        return product_response

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
