from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.price import Price
    from ..models.product_request_attributes import ProductRequestAttributes


T = TypeVar("T", bound="ProductRequest")


@_attrs_define
class ProductRequest:
    """A product as clients send it, to create or to replace.

    Attributes:
        category (str): Words of a-z and 0-9 joined by single hyphens, at most 50 characters. Example: kitchen.
        name (str): The name customers see: at most 200 characters, not blank, no control characters.
        price (Price): A price in minor units (cents for EUR) of an ISO 4217 currency.
        sku (str): The stock-keeping unit, unique in the catalogue: 3 to 32 characters of A-Z, 0-9 and -,
            not starting with -; surrounding spaces are trimmed. Example: KIT-0001.
        attributes (ProductRequestAttributes | Unset): Stock-independent properties: values are text, whole numbers or
            booleans.
        description (str | Unset): At most 5000 characters; newlines and tabs are the only control characters allowed.
        image (None | str | Unset): An absolute path (`/images/...`) or an https URL, without spaces. Example:
            /images/products/kit-0001.jpg.
    """

    category: str
    name: str
    price: Price
    sku: str
    attributes: ProductRequestAttributes | Unset = UNSET
    description: str | Unset = UNSET
    image: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        category = self.category

        name = self.name

        price = self.price.to_dict()

        sku = self.sku

        attributes: dict[str, Any] | Unset = UNSET
        if not isinstance(self.attributes, Unset):
            attributes = self.attributes.to_dict()

        description = self.description

        image: None | str | Unset
        if isinstance(self.image, Unset):
            image = UNSET
        else:
            image = self.image

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "category": category,
                "name": name,
                "price": price,
                "sku": sku,
            }
        )
        if attributes is not UNSET:
            field_dict["attributes"] = attributes
        if description is not UNSET:
            field_dict["description"] = description
        if image is not UNSET:
            field_dict["image"] = image

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.price import Price
        from ..models.product_request_attributes import ProductRequestAttributes

        d = dict(src_dict)
        category = d.pop("category")

        name = d.pop("name")

        price = Price.from_dict(d.pop("price"))

        sku = d.pop("sku")

        _attributes = d.pop("attributes", UNSET)
        attributes: ProductRequestAttributes | Unset
        if isinstance(_attributes, Unset):
            attributes = UNSET
        else:
            attributes = ProductRequestAttributes.from_dict(_attributes)

        description = d.pop("description", UNSET)

        def _parse_image(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        image = _parse_image(d.pop("image", UNSET))

        product_request = cls(
            category=category,
            name=name,
            price=price,
            sku=sku,
            attributes=attributes,
            description=description,
            image=image,
        )

        return product_request
