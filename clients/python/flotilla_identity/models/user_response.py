from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="UserResponse")


@_attrs_define
class UserResponse:
    """A user's account record.

    Example:
        {'created_at': '2025-03-20T08:56:16.698243Z', 'email': 'ada@example.com', 'id':
            '0195b2c4-7e3a-7f19-a6d2-58c1e0b4f937', 'roles': ['customer']}

    Attributes:
        created_at (str): When the account was created (RFC 3339, UTC).
        email (str): The email address they sign in with, trimmed and in lower case.
        id (str): The user's id: the `sub` of their tokens.
        roles (list[str]): What the user may do: `customer` for every account, `admin` as well for administrators.
    """

    created_at: str
    email: str
    id: str
    roles: list[str]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at

        email = self.email

        id = self.id

        roles = self.roles

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "email": email,
                "id": id,
                "roles": roles,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        created_at = d.pop("created_at")

        email = d.pop("email")

        id = d.pop("id")

        roles = cast(list[str], d.pop("roles"))

        user_response = cls(
            created_at=created_at,
            email=email,
            id=id,
            roles=roles,
        )

        user_response.additional_properties = d
        return user_response

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
