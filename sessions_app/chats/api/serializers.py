"""Validation and shapes of the chats and presence API (node_agent/chats.py's)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from gateway.fields import StrictBooleanField, StrictCharField
from node_agent import chats
from sessions_app.fields import RecipientField


def chat_jid(value: str) -> str:
    """Return the JID of a chat named in a path (a phone number in any common form, or a
    JID of a person or a group). Raises ValidationError (400 `invalid_recipient`)."""
    return RecipientField().run_validation(value).chat_jid


class ChatListQuery(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=chats.LIST_LIMIT_MAX, default=50)
    offset = serializers.IntegerField(min_value=0, max_value=10**9, default=0)


class HistoryItemOutput(serializers.Serializer):
    id = serializers.CharField()
    direction = serializers.ChoiceField(choices=["in", "out"])
    chatId = serializers.CharField()
    type = serializers.CharField()
    status = serializers.CharField()
    content = serializers.DictField()
    createdAt = serializers.CharField()
    cursor = serializers.IntegerField()


class ChatOutput(serializers.Serializer):
    id = serializers.CharField(help_text="The chat's JID")
    lastMessage = HistoryItemOutput(allow_null=True)
    unread = serializers.IntegerField(help_text="Incoming messages after the last read")
    archived = serializers.BooleanField()
    pinned = serializers.BooleanField()
    mutedUntil = serializers.DateTimeField(allow_null=True)


class ChatPageOutput(serializers.Serializer):
    chats = ChatOutput(many=True)
    total = serializers.IntegerField()


class ReadInput(serializers.Serializer):
    messageIds = serializers.ListField(
        child=StrictCharField(max_length=100),
        max_length=chats.READ_MAX,
        min_length=1,
        required=False,
        help_text="WhatsApp ids of incoming messages; none: every unread one of the chat",
    )


class ChatUpdateInput(serializers.Serializer):
    archived = StrictBooleanField(required=False)
    pinned = StrictBooleanField(required=False)
    mutedUntil = serializers.DateTimeField(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError("Give archived, pinned or mutedUntil.")
        if attrs.get("mutedUntil") is not None:
            attrs["mutedUntil"] = attrs["mutedUntil"].isoformat().replace("+00:00", "Z")
        return attrs


class CallPolicyInput(serializers.Serializer):
    reject = StrictBooleanField(help_text="Decline every incoming call at once")
    message = StrictCharField(
        max_length=4096,
        required=False,
        default="",
        allow_blank=True,
        trim_whitespace=False,
        help_text="A text sent to a caller whose call was declined",
    )


class PresenceInput(serializers.Serializer):
    state = serializers.ChoiceField(choices=chats.PRESENCE_STATES)


class ChatPresenceInput(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=chats.CHAT_PRESENCE_STATES, help_text="recording: a voice note"
    )
