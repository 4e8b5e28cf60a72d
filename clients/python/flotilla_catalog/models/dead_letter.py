from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.dead_letter_headers import DeadLetterHeaders


T = TypeVar("T", bound="DeadLetter")


@_attrs_define
class DeadLetter:
    """A dead letter as operators see it.

    Attributes:
        attempts (int):
        consumer (str):
        first_error (str):
        first_failed_at (datetime.datetime):
        headers (DeadLetterHeaders): The message's CloudEvents attributes as they travelled.
        id (UUID):
        last_error (str):
        last_failed_at (datetime.datetime):
        message_id (str):
        message_type (str):
        payload (Any): The body: JSON when it is JSON, else the text, else base64 (see `payload_encoding`).
        payload_encoding (str): `json`, `text` or `base64`.
        reason (str): `undecodable`, `rejected` or `exhausted`.
        replays (int):
        state (str): `dead`, or `replay-requested` until the consumer has tried it again.
    """

    attempts: int
    consumer: str
    first_error: str
    first_failed_at: datetime.datetime
    headers: DeadLetterHeaders
    id: UUID
    last_error: str
    last_failed_at: datetime.datetime
    message_id: str
    message_type: str
    payload: Any
    payload_encoding: str
    reason: str
    replays: int
    state: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        attempts = self.attempts

        consumer = self.consumer

        first_error = self.first_error

        first_failed_at = self.first_failed_at.isoformat()

        headers = self.headers.to_dict()

        id = str(self.id)

        last_error = self.last_error

        last_failed_at = self.last_failed_at.isoformat()

        message_id = self.message_id

        message_type = self.message_type

        payload = self.payload

        payload_encoding = self.payload_encoding

        reason = self.reason

        replays = self.replays

        state = self.state

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "attempts": attempts,
                "consumer": consumer,
                "first_error": first_error,
                "first_failed_at": first_failed_at,
                "headers": headers,
                "id": id,
                "last_error": last_error,
                "last_failed_at": last_failed_at,
                "message_id": message_id,
                "message_type": message_type,
                "payload": payload,
                "payload_encoding": payload_encoding,
                "reason": reason,
                "replays": replays,
                "state": state,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.dead_letter_headers import DeadLetterHeaders

        d = dict(src_dict)
        attempts = d.pop("attempts")

        consumer = d.pop("consumer")

        first_error = d.pop("first_error")

        first_failed_at = datetime.datetime.fromisoformat(d.pop("first_failed_at"))

        headers = DeadLetterHeaders.from_dict(d.pop("headers"))

        id = UUID(d.pop("id"))

        last_error = d.pop("last_error")

        last_failed_at = datetime.datetime.fromisoformat(d.pop("last_failed_at"))

        message_id = d.pop("message_id")

        message_type = d.pop("message_type")

        payload = d.pop("payload")

        payload_encoding = d.pop("payload_encoding")

        reason = d.pop("reason")

        replays = d.pop("replays")

        state = d.pop("state")

        dead_letter = cls(
            attempts=attempts,
            consumer=consumer,
            first_error=first_error,
            first_failed_at=first_failed_at,
            headers=headers,
            id=id,
            last_error=last_error,
            last_failed_at=last_failed_at,
            message_id=message_id,
            message_type=message_type,
            payload=payload,
            payload_encoding=payload_encoding,
            reason=reason,
            replays=replays,
            state=state,
        )

        dead_letter.additional_properties = d
        return dead_letter

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
