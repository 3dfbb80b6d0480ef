"""Serializers of the groups API: inputs validated here, before the node is asked; outputs
describe node_agent/groups.py's shapes for the OpenAPI schema (the node's answer is passed on)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from rest_framework import serializers

from gateway.fields import StrictBooleanField, StrictCharField, StrictRegexField
from node_agent.groups import (
    DESCRIPTION_MAX,
    INVITE_PATTERN,
    LIST_LIMIT_MAX,
    PARTICIPANT_ACTIONS,
    PARTICIPANT_RESULTS,
    SUBJECT_MAX,
    invite_code,
)
from sessions_app.fields import RecipientField

PARTICIPANTS_MAX = 256  # WhatsApp's member limit is 1024; one call adds at most this many
PICTURE_MAX_BYTES = 5 * 1024 * 1024


class MemberField(RecipientField):
    """A person: a phone number in any common form, or a user JID (`…@s.whatsapp.net`, `…@lid`);
    validates to the JID. A group JID is refused."""

    def to_internal_value(self, data: Any) -> Any:
        recipient = super().to_internal_value(data)
        if recipient.chat_jid.endswith("@g.us"):
            raise serializers.ValidationError(
                "A member must be a person, not a group (reason: not_a_person).",
                code="invalid_recipient",
            )
        return recipient.chat_jid


def _members(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(
        child=MemberField(),
        max_length=PARTICIPANTS_MAX,
        help_text="Phone numbers or JIDs",
        **kwargs,
    )


class GroupListQuery(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=LIST_LIMIT_MAX, default=100)
    offset = serializers.IntegerField(min_value=0, max_value=10**9, default=0)
    q = StrictCharField(max_length=100, required=False, default="", help_text="Part of the subject")
    refresh = serializers.BooleanField(default=False, help_text="Ask WhatsApp, not the node's copy")


class GroupCreateInput(serializers.Serializer):
    subject = StrictCharField(max_length=SUBJECT_MAX)
    participants = _members(min_length=0, default=list)


class GroupUpdateInput(serializers.Serializer):
    subject = StrictCharField(max_length=SUBJECT_MAX, required=False)
    description = StrictCharField(max_length=DESCRIPTION_MAX, required=False, allow_blank=True)
    announce = StrictBooleanField(required=False, help_text="Only admins send messages")
    locked = StrictBooleanField(required=False, help_text="Only admins edit the group's info")
    joinApproval = StrictBooleanField(required=False, help_text="Admins approve who joins by link")


class GroupPictureInput(serializers.Serializer):
    image = StrictCharField(
        trim_whitespace=False, help_text="A JPEG, base64 (data: prefix allowed)"
    )

    def validate_image(self, value: str) -> str:
        raw = value.split(",", 1)[1] if value.startswith("data:") else value
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise serializers.ValidationError("Not base64.") from exc
        if len(data) > PICTURE_MAX_BYTES:
            raise serializers.ValidationError(f"At most {PICTURE_MAX_BYTES} bytes.")
        if not data.startswith(b"\xff\xd8\xff"):
            raise serializers.ValidationError("Not a JPEG (WhatsApp's group pictures are).")
        return base64.b64encode(data).decode()


class ParticipantsInput(serializers.Serializer):
    action = serializers.ChoiceField(choices=PARTICIPANT_ACTIONS)
    participants = _members(min_length=1)


class InviteInput(serializers.Serializer):
    invite = StrictRegexField(
        INVITE_PATTERN,
        max_length=200,
        help_text="https://chat.whatsapp.com/<code>, or the code",
        error_messages={"invalid": "Not an invite link or code."},
    )

    def validate_invite(self, value: str) -> str:
        return invite_code(value) or value  # the pattern matched: it has a code


# --- Outputs (for the schema) -----------------------------------------------------------------


class ParticipantOutput(serializers.Serializer):
    jid = serializers.CharField(help_text="As WhatsApp names the member (a phone JID or a LID)")
    phone = serializers.CharField(allow_null=True, help_text="E.164 digits, when known")
    lid = serializers.CharField(allow_null=True, help_text="`…@lid`, when known")
    admin = serializers.BooleanField()
    superAdmin = serializers.BooleanField(help_text="The group's creator")


class GroupOutput(serializers.Serializer):
    id = serializers.CharField(help_text="The group's JID, `…@g.us`")
    subject = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    owner = serializers.CharField(allow_null=True)
    createdAt = serializers.CharField(allow_null=True, help_text="ISO 8601 UTC")
    announce = serializers.BooleanField()
    locked = serializers.BooleanField()
    joinApproval = serializers.BooleanField()
    size = serializers.IntegerField()
    participants = ParticipantOutput(many=True)


class GroupPageOutput(serializers.Serializer):
    groups = GroupOutput(many=True)
    total = serializers.IntegerField()
    refreshedAt = serializers.CharField(help_text="When the node last asked WhatsApp (ISO 8601)")


class InviteOutput(serializers.Serializer):
    link = serializers.CharField()
    code = serializers.CharField()


class JoinedOutput(serializers.Serializer):
    id = serializers.CharField(help_text="The group's JID")


class InviteOffer(serializers.Serializer):
    code = serializers.CharField()
    expiresAt = serializers.CharField()


class ParticipantResultOutput(serializers.Serializer):
    jid = serializers.CharField()
    result = serializers.ChoiceField(choices=PARTICIPANT_RESULTS)
    invite = InviteOffer(
        required=False,
        help_text="invite_required: the person's privacy refuses adds; send them this invite",
    )
    error = serializers.CharField(required=False)
