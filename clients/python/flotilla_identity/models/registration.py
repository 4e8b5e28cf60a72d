from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="Registration")


@_attrs_define
class Registration:
    """A new account as the API and the registration form take it.

    Attributes:
        email (str): One `@`, something before it, a dotted domain after it, no spaces or angle brackets; at
            most 254 characters once trimmed; compared in lower case. Example: ada@example.com.
        password (str): 12 to 128 characters; not only spaces, not one character repeated, not a common password.
            Example: violet anchor tuesday lantern.
    """

    email: str
    password: str

    def to_dict(self) -> dict[str, Any]:
        email = self.email

        password = self.password

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "email": email,
                "password": password,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        email = d.pop("email")

        password = d.pop("password")

        registration = cls(
            email=email,
            password=password,
        )

        return registration
