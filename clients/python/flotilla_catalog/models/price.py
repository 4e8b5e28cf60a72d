from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

from ..models.price_currency import PriceCurrency

T = TypeVar("T", bound="Price")


@_attrs_define
class Price:
    """A price in minor units (cents for EUR) of an ISO 4217 currency.

    Attributes:
        amount_minor (int): The amount in minor units of the currency (cents for EUR), 0 to 10,000,000,000. Example:
            3499.
        currency (PriceCurrency): An active ISO 4217 code in upper case
    """

    amount_minor: int
    currency: PriceCurrency

    def to_dict(self) -> dict[str, Any]:
        amount_minor = self.amount_minor

        currency = self.currency.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "amount_minor": amount_minor,
                "currency": currency,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        amount_minor = d.pop("amount_minor")

        currency = PriceCurrency(d.pop("currency"))

        price = cls(
            amount_minor=amount_minor,
            currency=currency,
        )

        return price
