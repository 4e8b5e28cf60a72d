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

    Example:
        {'attempts': 5, 'consumer': 'basket.catalog-prices', 'first_error': 'database is locked', 'first_failed_at':
            '2026-12-01T19:47:46Z', 'headers': {'ce-id': '0193a1f4-2a10-7c3d-8e4f-5a6b7c8d9e0f', 'ce-source':
            '/flotilla/catalog', 'ce-specversion': '1.0', 'ce-type': 'flotilla.catalog.product-updated.v1', 'content-type':
            'application/json'}, 'id': '0193a1f4-5b7c-7d2e-9f10-3a4b5c6d7e8f', 'last_error': 'database is locked',
            'last_failed_at': '2026-12-01T19:48:16Z', 'message_id': '0193a1f4-2a10-7c3d-8e4f-5a6b7c8d9e0f', 'message_type':
            'flotilla.catalog.product-updated.v1', 'payload': {'product_id': '0193a1f3-9d2e-7f40-a1b2-c3d4e5f60718', 'sku':
            'KIT-0001'}, 'payload_encoding': 'json', 'reason': 'exhausted', 'replays': 0, 'state': 'dead'}

    Attributes:
        attempts (int): How many times the consumer tried it.
        consumer (str): The consumer that gave up on it (`<service>.<consumer>`).
        first_error (str): What went wrong the first time.
        first_failed_at (datetime.datetime): When it first failed (RFC 3339, UTC).
        headers (DeadLetterHeaders): The message's CloudEvents attributes as they travelled.
        id (UUID): The dead letter's own id, for replaying or discarding it.
        last_error (str): What went wrong the last time.
        last_failed_at (datetime.datetime): When it last failed (RFC 3339, UTC).
        message_id (str): The message's id (CloudEvents `id`); a replay keeps it, so duplicates stay detectable.
        message_type (str): The message's CloudEvents `type`.
        payload (Any): The body: JSON when it is JSON, else the text, else base64 (see `payload_encoding`).
        payload_encoding (str): `json`, `text` or `base64`.
        reason (str): `undecodable`, `rejected` or `exhausted`.
        replays (int): How many times an operator asked for it to be replayed.
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
