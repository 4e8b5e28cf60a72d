from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.product_response import ProductResponse


T = TypeVar("T", bound="ProductPage")


@_attrs_define
class ProductPage:
    """One page of products.

    Example:
        {'items': [{'attributes': {'diameter_cm': 26, 'dishwasher_safe': False, 'material': 'cast iron', 'weight_g':
            2300}, 'category': 'kitchen', 'created_at': '2025-03-14T09:26:53.589412Z', 'description': 'Pre-seasoned cast-
            iron skillet with a helper handle and twin pouring lips.', 'id': '019593fa-5d95-7c4e-8a1f-3b6d9e2c7a10',
            'image': '/images/products/kit-0001.jpg', 'name': 'Cast-Iron Skillet 26 cm', 'price': {'amount_minor': 3499,
            'currency': 'EUR'}, 'sku': 'KIT-0001', 'updated_at': '2025-05-02T16:41:07.305118Z', 'version': 3},
            {'attributes': {'capacity_ml': 2000, 'dishwasher_safe': True, 'induction_compatible': True}, 'category':
            'kitchen', 'created_at': '2025-03-14T09:27:10.112734Z', 'description': 'Tri-ply stainless saucepan with an
            aluminium core for fast, even heating.', 'id': '019593fa-9e20-7d51-b3c8-0e4f7a9d1b26', 'image': None, 'name':
            'Stainless Steel Saucepan 2 L with Lid', 'price': {'amount_minor': 4299, 'currency': 'EUR'}, 'sku': 'KIT-0002',
            'updated_at': '2025-03-14T09:27:10.112734Z', 'version': 1}], 'next_cursor':
            'YTowMTk1OTNmYS05ZTIwLTdkNTEtYjNjOC0wZTRmN2E5ZDFiMjY'}

    Attributes:
        items (list[ProductResponse]): The products of this page: in creation order, or by relevance when searching with
            `q`.
        next_cursor (None | str | Unset): Pass as `cursor` to get the next page; null on the last page.
    """

    items: list[ProductResponse]
    next_cursor: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        items = []
        for items_item_data in self.items:
            items_item = items_item_data.to_dict()
            items.append(items_item)

        next_cursor: None | str | Unset
        if isinstance(self.next_cursor, Unset):
            next_cursor = UNSET
        else:
            next_cursor = self.next_cursor

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "items": items,
            }
        )
        if next_cursor is not UNSET:
            field_dict["next_cursor"] = next_cursor

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.product_response import ProductResponse

        d = dict(src_dict)
        items = []
        _items = d.pop("items")
        for items_item_data in _items:
            items_item = ProductResponse.from_dict(items_item_data)

            items.append(items_item)

        def _parse_next_cursor(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        next_cursor = _parse_next_cursor(d.pop("next_cursor", UNSET))

        product_page = cls(
            items=items,
            next_cursor=next_cursor,
        )

        product_page.additional_properties = d
        return product_page

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
