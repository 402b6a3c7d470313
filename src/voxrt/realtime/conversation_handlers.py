"""The client events of conversation sessions: each validated, then handed to the session."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from voxrt.realtime.conversation_config import ItemIn, RealtimeSessionIn, ResponseIn
from voxrt.realtime.events import InvalidEvent, server_event, validation_error
from voxrt.realtime.input import input_router
from voxrt.realtime.protocol import EventRouter

if TYPE_CHECKING:  # the session module imports this router
    from voxrt.realtime.conversation import ConversationSession

__all__ = ["router"]

router: EventRouter[ConversationSession] = EventRouter()
router.include(input_router)


def _parse(model: type[BaseModel], value: Any, param: str) -> Any:
    try:
        return model.model_validate(value if value is not None else {})
    except ValidationError as exc:
        raise validation_error(exc, param) from None


@router.on("session.update")
def _session_update(session: ConversationSession, event: dict[str, Any]) -> None:
    session.update(_parse(RealtimeSessionIn, event.get("session"), "session"))


@router.on("conversation.item.create")
def _item_create(session: ConversationSession, event: dict[str, Any]) -> None:
    given: ItemIn = _parse(ItemIn, event.get("item"), "item")
    if given.type == "item_reference":
        raise InvalidEvent(
            "conversation.item.create takes a message or function call item.", param="item.type"
        )
    previous = event.get("previous_item_id")
    if previous is not None and not isinstance(previous, str):
        raise InvalidEvent("previous_item_id must be a string.", param="previous_item_id")
    session.create_item(given.to_item(), previous)


@router.on("conversation.item.retrieve")
def _item_retrieve(session: ConversationSession, event: dict[str, Any]) -> None:
    item = session.items.get(_string(event, "item_id"))
    session.emit(server_event("conversation.item.retrieved", item=item.to_wire()))


@router.on("conversation.item.delete")
def _item_delete(session: ConversationSession, event: dict[str, Any]) -> None:
    item_id = _string(event, "item_id")
    session.items.delete(item_id)
    session.emit(server_event("conversation.item.deleted", item_id=item_id))


@router.on("conversation.item.truncate")
def _item_truncate(session: ConversationSession, event: dict[str, Any]) -> None:
    end, index = event.get("audio_end_ms"), event.get("content_index", 0)
    if not isinstance(end, int) or not isinstance(index, int):
        raise InvalidEvent(
            "conversation.item.truncate needs integer audio_end_ms and content_index.", param="audio_end_ms"
        )
    session.truncate(_string(event, "item_id"), index, end)


@router.on("response.create")
def _response_create(session: ConversationSession, event: dict[str, Any]) -> None:
    session.create_response(_parse(ResponseIn, event.get("response"), "response"))


@router.on("response.cancel")
def _response_cancel(session: ConversationSession, event: dict[str, Any]) -> None:
    response_id = event.get("response_id")
    session.cancel_response(response_id if isinstance(response_id, str) else None, "client_cancelled")


def _string(event: dict[str, Any], key: str) -> str:
    value = event.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidEvent(f"{event.get('type')} needs '{key}', a string.", param=key)
    return value
