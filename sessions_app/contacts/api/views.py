"""Public API for a session's contacts, the people it knows and its own profile
(`/api/v1/sessions/{id}/contacts…`, `…/blocklist`, `…/profile…`, `…/lids/{contact}`).

Thin: serializers validate, `session_call` asks the session's node. Pictures come through the
gateway (`…/picture` routes), never as a WhatsApp CDN link that expires unseen.
"""

from __future__ import annotations

import base64
from typing import Any

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema

from gateway.api import validated
from gateway.errors import envelope
from gateway.schema import error_answers
from node_agent.protocol import ContactCall
from sessions_app.calls import NODE_CALL_ERRORS
from sessions_app.contacts.api import serializers as s
from sessions_app.errors import PictureNotFound
from sessions_app.sessions.api.views import SessionCallApiView

TAG_CONTACTS = ["contacts"]
_NODE = {
    404: "`session_not_found`, `contact_not_found`.",
    409: "`session_not_connected`, `contacts_unsupported`.",
    **NODE_CALL_ERRORS,
}
_PERSON = {**_NODE, 400: "`invalid_recipient`: `contact` is not a phone number or a JID."}
_CONTACT = OpenApiParameter(
    "contact",
    str,
    location=OpenApiParameter.PATH,
    description="A phone number (any common form) or a JID (`…@s.whatsapp.net`, `…@lid`)",
)
_JPEG = {(200, "image/jpeg"): bytes}


class ContactsApiView(SessionCallApiView):
    call_task = ContactCall


def _picture(answer: dict[str, Any] | None) -> HttpResponse:
    if not answer:
        raise PictureNotFound()
    return HttpResponse(base64.b64decode(answer["base64"]), content_type="image/jpeg")


class ContactListApi(ContactsApiView):
    @extend_schema(
        tags=TAG_CONTACTS,
        operation_id="v1_sessions_contacts_list",
        parameters=[s.ContactListQuery],
        responses={200: s.ContactPageOutput, **error_answers(_NODE)},
        summary="The session's contacts (paged, searched), from its own store",
    )
    def get(self, request: Any, session_id: str) -> Any:
        query = validated(s.ContactListQuery, request.query_params)
        page = self.ask(
            session_id, "list", limit=query["limit"], offset=query["offset"], query=query["q"]
        )
        return envelope(page)


class ContactDetailApi(ContactsApiView):
    @extend_schema(
        tags=TAG_CONTACTS,
        parameters=[_CONTACT],
        responses={200: s.ProfileOutput, **error_answers(_PERSON)},
        summary="A person's profile: push name, about, business, picture",
    )
    def get(self, request: Any, session_id: str, contact: str) -> Any:
        jid = s.person_jid(contact)
        profile = self.ask(session_id, "profile", jid=jid)
        url = reverse("api_sessions:contact-picture", args=[session_id, profile["jid"]])
        return envelope(s.with_picture_url(profile, request.build_absolute_uri(url)))


class ContactPictureApi(ContactsApiView):
    @extend_schema(
        tags=TAG_CONTACTS,
        parameters=[_CONTACT],
        responses={**_JPEG, **error_answers({**_PERSON, 404: "`picture_not_found`, …"})},
        summary="A person's profile picture (a JPEG, fetched by the node)",
    )
    def get(self, request: Any, session_id: str, contact: str) -> Any:
        return _picture(self.ask(session_id, "picture", jid=s.person_jid(contact)))


class ContactBlockApi(ContactsApiView):
    block = True

    @extend_schema(
        tags=TAG_CONTACTS,
        parameters=[_CONTACT],
        request=None,
        responses={200: None, **error_answers(_PERSON)},
        summary="Block a person",
    )
    def post(self, request: Any, session_id: str, contact: str) -> Any:
        op = "block" if self.block else "unblock"
        return envelope(self.ask(session_id, op, jid=s.person_jid(contact)))


class ContactUnblockApi(ContactBlockApi):
    block = False

    @extend_schema(
        tags=TAG_CONTACTS,
        parameters=[_CONTACT],
        request=None,
        responses={200: None, **error_answers(_PERSON)},
        summary="Unblock a person",
    )
    def post(self, request: Any, session_id: str, contact: str) -> Any:
        return super().post(request, session_id, contact)


class BlocklistApi(ContactsApiView):
    @extend_schema(
        tags=TAG_CONTACTS,
        responses={200: s.BlocklistOutput, **error_answers(_NODE)},
        summary="The people the account has blocked",
    )
    def get(self, request: Any, session_id: str) -> Any:
        return envelope(self.ask(session_id, "blocklist"))


class LidLookupApi(ContactsApiView):
    @extend_schema(
        tags=TAG_CONTACTS,
        parameters=[_CONTACT],
        responses={200: s.LidOutput, **error_answers(_PERSON)},
        summary="A person's phone number and LID, from the session's store",
        description=(
            "Either may be null: WhatsApp tells which LID a phone number has only in some "
            "answers (group participants, messages from a contact using a LID), and the "
            "session's store keeps what it was told."
        ),
    )
    def get(self, request: Any, session_id: str, contact: str) -> Any:
        return envelope(self.ask(session_id, "lid", jid=s.person_jid(contact)))


class OwnProfileApi(ContactsApiView):
    def _answer(self, request: Any, session_id: str, profile: dict[str, Any]) -> Any:
        url = reverse("api_sessions:profile-picture", args=[session_id])
        return envelope(s.with_picture_url(profile, request.build_absolute_uri(url)))

    @extend_schema(
        tags=TAG_CONTACTS,
        responses={200: s.ProfileOutput, **error_answers(_NODE)},
        summary="The linked account's own profile",
    )
    def get(self, request: Any, session_id: str) -> Any:
        return self._answer(request, session_id, self.ask(session_id, "me"))

    @extend_schema(
        tags=TAG_CONTACTS,
        request=s.ProfileUpdateInput,
        responses={200: s.ProfileOutput, **error_answers(_NODE)},
        summary="Set the account's push name or about text",
        description="An empty body changes nothing and answers the profile as it is.",
    )
    def patch(self, request: Any, session_id: str) -> Any:
        changes = validated(s.ProfileUpdateInput, request.data)
        if not changes:
            return self.get(request, session_id)
        profile = self.ask(session_id, "me_update", changes=changes)
        return self._answer(request, session_id, profile)


class OwnPictureApi(OwnProfileApi):
    @extend_schema(
        tags=TAG_CONTACTS,
        responses={**_JPEG, **error_answers({**_NODE, 404: "`picture_not_found`, …"})},
        summary="The account's own profile picture (a JPEG)",
    )
    def get(self, request: Any, session_id: str) -> Any:
        return _picture(self.ask(session_id, "picture"))

    @extend_schema(
        tags=TAG_CONTACTS,
        request=s.ProfilePictureInput,
        responses={200: s.ProfileOutput, **error_answers(_NODE)},
        summary="Set the account's profile picture (a JPEG)",
    )
    def put(self, request: Any, session_id: str) -> Any:
        image = validated(s.ProfilePictureInput, request.data)["image"]
        profile = self.ask(session_id, "me_update", changes={"picture": image})
        return self._answer(request, session_id, profile)

    @extend_schema(
        tags=TAG_CONTACTS,
        request=None,
        responses={200: s.ProfileOutput, **error_answers(_NODE)},
        summary="Remove the account's profile picture",
    )
    def delete(self, request: Any, session_id: str) -> Any:
        profile = self.ask(session_id, "me_update", changes={"picture": None})
        return self._answer(request, session_id, profile)
