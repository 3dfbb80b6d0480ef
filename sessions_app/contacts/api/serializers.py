"""Serializers of the contacts and profile API: inputs validated before the node is asked;
outputs describe node_agent/contacts.py's shapes for the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from gateway.fields import StrictCharField
from node_agent.contacts import ABOUT_MAX, LIST_LIMIT_MAX, PUSH_NAME_MAX
from sessions_app.fields import one_line_name
from sessions_app.groups.api.serializers import GroupPictureInput, MemberField


def person_jid(value: str) -> str:
    """Return the JID of a person named in a path (a phone number in any common form, or a
    phone or `@lid` JID). Raises ValidationError (400 `invalid_recipient`)."""
    return MemberField().run_validation(value)


class ContactListQuery(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=LIST_LIMIT_MAX, default=100)
    offset = serializers.IntegerField(min_value=0, max_value=10**9, default=0)
    q = StrictCharField(
        max_length=100, required=False, default="", help_text="Part of a name or the number"
    )


class ProfileUpdateInput(serializers.Serializer):
    pushName = StrictCharField(max_length=PUSH_NAME_MAX, required=False, validators=[one_line_name])
    about = StrictCharField(max_length=ABOUT_MAX, required=False, allow_blank=True)


class ProfilePictureInput(GroupPictureInput):
    """A JPEG, base64 (WhatsApp's profile pictures are JPEGs)."""


class ContactOutput(serializers.Serializer):
    jid = serializers.CharField(help_text="The JID WhatsApp uses for the person")
    phone = serializers.CharField(allow_null=True, help_text="E.164 digits, when known")
    lid = serializers.CharField(allow_null=True, help_text="`…@lid`, when known")
    name = serializers.CharField(allow_null=True, help_text="As the account's phone saved it")
    pushName = serializers.CharField(allow_null=True, help_text="The name they gave themselves")


class ContactPageOutput(serializers.Serializer):
    contacts = ContactOutput(many=True)
    total = serializers.IntegerField()


class ProfileOutput(serializers.Serializer):
    jid = serializers.CharField()
    phone = serializers.CharField(allow_null=True)
    lid = serializers.CharField(allow_null=True)
    pushName = serializers.CharField(allow_null=True)
    about = serializers.CharField(allow_null=True, help_text="When their privacy shows it")
    business = serializers.BooleanField()
    verifiedName = serializers.CharField(allow_null=True)
    hasPicture = serializers.BooleanField()
    pictureUrl = serializers.CharField(
        allow_null=True, help_text="The gateway's route to the picture (needs the API key)"
    )


class BlocklistOutput(serializers.Serializer):
    jids = serializers.ListField(child=serializers.CharField())


class LidOutput(serializers.Serializer):
    phone = serializers.CharField(allow_null=True, help_text="E.164 digits, when known")
    lid = serializers.CharField(allow_null=True, help_text="`…@lid`, when known")


def with_picture_url(profile: dict[str, Any], url: str) -> dict[str, Any]:
    """The node's Profile with `pictureUrl`: `url` when a picture is shown, else None."""
    return {**profile, "pictureUrl": url if profile.get("hasPicture") else None}
