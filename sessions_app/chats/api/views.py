"""Public API for a session's chats and presence (`/api/v1/sessions/{id}/chats…`,
`…/presence`, `…/contacts/{contact}/presence`).

Thin: serializers validate, `session_call` asks the session's node (node_agent/chat_calls.py),
which keeps the history the chats come from.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema

from gateway.api import validated
from gateway.errors import envelope
from gateway.schema import error_answers
from node_agent.protocol import ChatCall
from sessions_app.calls import NODE_CALL_ERRORS
from sessions_app.chats.api import serializers as s
from sessions_app.contacts.api.serializers import person_jid
from sessions_app.sessions.api.views import SessionCallApiView
from sessions_app.sessions.services import call_policy_set

TAG_CHATS = ["chats"]
_NODE = {
    404: "`session_not_found`.",
    409: "`session_not_connected`, `chats_unsupported`.",
    **NODE_CALL_ERRORS,
}
_CHAT_ERRORS = {
    **_NODE,
    400: "`invalid_recipient`: `chat` is not a phone number or a JID.",
    404: "`session_not_found`, `chat_not_found` (no message in it yet).",
}
_CHAT = OpenApiParameter(
    "chat",
    str,
    location=OpenApiParameter.PATH,
    description="A phone number (any common form) or a JID (`…@s.whatsapp.net`, `…@g.us`, `…@lid`)",
)


class ChatsApiView(SessionCallApiView):
    call_task = ChatCall


class ChatListApi(ChatsApiView):
    @extend_schema(
        tags=TAG_CHATS,
        operation_id="v1_sessions_chats_list",
        parameters=[s.ChatListQuery],
        responses={200: s.ChatPageOutput, **error_answers(_NODE)},
        summary="The session's chats: pinned first, then the most recent, with unread counts",
    )
    def get(self, request: Any, session_id: str) -> Any:
        query = validated(s.ChatListQuery, request.query_params)
        return envelope(self.ask(session_id, "list", **query))


class ChatDetailApi(ChatsApiView):
    @extend_schema(
        tags=TAG_CHATS,
        parameters=[_CHAT],
        request=s.ChatUpdateInput,
        responses={200: s.ChatOutput, **error_answers(_CHAT_ERRORS)},
        summary="Archive, pin or mute a chat (kept by the gateway; the phone does not see it)",
    )
    def patch(self, request: Any, session_id: str, chat: str) -> Any:
        jid = s.chat_jid(chat)
        changes = validated(s.ChatUpdateInput, request.data)
        return envelope(self.ask(session_id, "update", chat=jid, **changes))

    @extend_schema(
        tags=TAG_CHATS,
        parameters=[_CHAT],
        responses={200: None, **error_answers(_CHAT_ERRORS)},
        summary="Delete a chat's history on this device (the gateway's node), not for the others",
    )
    def delete(self, request: Any, session_id: str, chat: str) -> Any:
        return envelope(self.ask(session_id, "delete", chat=s.chat_jid(chat)))


class ChatReadApi(ChatsApiView):
    @extend_schema(
        tags=TAG_CHATS,
        parameters=[_CHAT],
        request=s.ReadInput,
        responses={200: None, **error_answers(_CHAT_ERRORS)},
        summary="Mark a chat (or given messages) read: WhatsApp read receipts (blue ticks)",
        description="Answers `{read: n}`, how many messages got a receipt.",
    )
    def post(self, request: Any, session_id: str, chat: str) -> Any:
        jid = s.chat_jid(chat)
        body = validated(s.ReadInput, request.data)
        return envelope(self.ask(session_id, "read", chat=jid, **body))


class ChatPresenceApi(ChatsApiView):
    @extend_schema(
        tags=TAG_CHATS,
        parameters=[_CHAT],
        request=s.ChatPresenceInput,
        responses={200: None, **error_answers(_CHAT_ERRORS)},
        summary='Show "typing…" or "recording…" in a chat, or stop (paused)',
    )
    def post(self, request: Any, session_id: str, chat: str) -> Any:
        jid = s.chat_jid(chat)
        state = validated(s.ChatPresenceInput, request.data)["state"]
        return envelope(self.ask(session_id, "chat_presence", chat=jid, state=state))


class CallPolicyApi(ChatsApiView):
    @extend_schema(
        tags=TAG_CHATS,
        responses={200: s.CallPolicyInput, **error_answers({404: "`session_not_found`."})},
        summary="The session's call policy",
    )
    def get(self, request: Any, session_id: str) -> Any:
        policy = self.get_session(session_id).call_policy or {}
        return envelope(s.CallPolicyInput({"reject": False, "message": "", **policy}).data)

    @extend_schema(
        tags=TAG_CHATS,
        request=s.CallPolicyInput,
        responses={200: s.CallPolicyInput, **error_answers({400: "`validation_error`.", **_NODE})},
        summary="Decline incoming calls at once (call.received, then call.rejected), with a reply",
        description="Kept by the gateway and given to the session's node whenever it starts; "
        "a connected session's node gets it at once.",
    )
    def put(self, request: Any, session_id: str) -> Any:
        policy = validated(s.CallPolicyInput, request.data)
        session = call_policy_set(session=self.get_session(session_id), policy=policy)
        if session.sendable:
            self.ask(session_id, "calls", **policy)
        return envelope(policy)


class PresenceApi(ChatsApiView):
    @extend_schema(
        tags=TAG_CHATS,
        request=s.PresenceInput,
        responses={200: None, **error_answers(_NODE)},
        summary="Show the account as available (online) or unavailable",
    )
    def post(self, request: Any, session_id: str) -> Any:
        state = validated(s.PresenceInput, request.data)["state"]
        return envelope(self.ask(session_id, "presence", state=state))


class ContactPresenceApi(ChatsApiView):
    @extend_schema(
        tags=TAG_CHATS,
        request=None,
        responses={200: None, **error_answers({**_CHAT_ERRORS, 404: "`contact_not_found`, …"})},
        summary="Subscribe to a person's presence: presence.update events follow",
    )
    def post(self, request: Any, session_id: str, contact: str) -> Any:
        return envelope(self.ask(session_id, "subscribe", jid=person_jid(contact)))
