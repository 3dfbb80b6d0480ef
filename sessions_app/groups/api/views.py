"""Public API for a session's WhatsApp groups (`/api/v1/sessions/{id}/groups…`).

Thin: serializers validate, `services.group_call` asks the session's node.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema

from gateway.api import validated
from gateway.errors import envelope
from gateway.schema import error_answers
from node_agent.groups import invite_code
from sessions_app.calls import NODE_CALL_ERRORS
from sessions_app.errors import GroupInviteInvalid
from sessions_app.groups.api import serializers as s
from sessions_app.groups.services import group_call
from sessions_app.sessions.api.views import SessionApiView

TAG_GROUPS = ["groups"]
_NODE = {
    409: "`session_not_connected`, `groups_unsupported`.",
    **NODE_CALL_ERRORS,
}
_IN_GROUP = {
    **_NODE,
    403: "`not_participant`: this account is not in the group; `not_admin`: admins only.",
    404: "`session_not_found`, `group_not_found`.",
}
_GROUP_ID = OpenApiParameter(
    "group_id",
    {"type": "string", "pattern": r"^[0-9]{5,30}(-[0-9]{5,20})?(@g\.us)?$"},
    location=OpenApiParameter.PATH,
    description="The group's JID (`120363…@g.us`) or the digits before `@g.us`",
)
_EX_GROUP = {
    "id": "120363041234567890@g.us",
    "subject": "Kopi pagi",
    "description": "",
    "owner": "6281200000001@s.whatsapp.net",
    "createdAt": "2026-12-07T09:00:00.000000Z",
    "announce": False,
    "locked": False,
    "joinApproval": False,
    "size": 2,
    "participants": [
        {"jid": "6281200000001@s.whatsapp.net", "phone": "6281200000001", "lid": None,
         "admin": True, "superAdmin": True},
        {"jid": "6281200000002@s.whatsapp.net", "phone": "6281200000002", "lid": None,
         "admin": False, "superAdmin": False},
    ],
}  # fmt: skip


class GroupListCreateApi(SessionApiView):
    @extend_schema(
        tags=TAG_GROUPS,
        operation_id="v1_sessions_groups_list",
        parameters=[s.GroupListQuery],
        responses={200: s.GroupPageOutput, **error_answers({404: "`session_not_found`.", **_NODE})},
        summary="List the session's groups (paged, by subject)",
        description=(
            "Served from the node's copy of the session's groups, which it fills from WhatsApp in "
            "one call when it is five minutes old or `refresh` is true: hundreds of groups list "
            "at once, never one WhatsApp request per group."
        ),
    )
    def get(self, request: Any, session_id: str) -> Any:
        session = self.get_session(session_id)
        query = validated(s.GroupListQuery, request.query_params)
        page = group_call(
            session=session,
            op="list",
            limit=query["limit"],
            offset=query["offset"],
            query=query["q"],
            refresh=query["refresh"],
        )
        return envelope(page)

    @extend_schema(
        tags=TAG_GROUPS,
        request=s.GroupCreateInput,
        responses={201: s.GroupOutput, **error_answers({404: "`session_not_found`.", **_NODE})},
        examples=[
            OpenApiExample(
                "create",
                value={"subject": "Kopi pagi", "participants": ["+62 812-0000-0002"]},
                request_only=True,
            ),
            OpenApiExample("created", value=_EX_GROUP, response_only=True, status_codes=["201"]),
        ],
        summary="Create a group",
        description="Members that cannot be added (not on WhatsApp, privacy) are left out.",
    )
    def post(self, request: Any, session_id: str) -> Any:
        session = self.get_session(session_id)
        body = validated(s.GroupCreateInput, request.data)
        return envelope(group_call(session=session, op="create", **body), status=201)


class GroupDetailApi(SessionApiView):
    @extend_schema(
        tags=TAG_GROUPS,
        parameters=[_GROUP_ID],
        responses={200: s.GroupOutput, **error_answers(_IN_GROUP)},
        examples=[OpenApiExample("group", value=_EX_GROUP, response_only=True)],
        summary="A group's info, settings and participants",
    )
    def get(self, request: Any, session_id: str, group_id: str) -> Any:
        session = self.get_session(session_id)
        return envelope(group_call(session=session, op="info", group=group_id))

    @extend_schema(
        tags=TAG_GROUPS,
        parameters=[_GROUP_ID],
        request=s.GroupUpdateInput,
        responses={200: s.GroupOutput, **error_answers(_IN_GROUP)},
        summary="Change the subject, description or settings",
        description=(
            "Applied in the body's order; the first refusal stops (earlier ones stay). An empty "
            "body changes nothing and answers the group as it is."
        ),
    )
    def patch(self, request: Any, session_id: str, group_id: str) -> Any:
        session = self.get_session(session_id)
        changes = validated(s.GroupUpdateInput, request.data)
        if not changes:
            return envelope(group_call(session=session, op="info", group=group_id))
        return envelope(group_call(session=session, op="update", group=group_id, changes=changes))


class GroupPictureApi(SessionApiView):
    @extend_schema(
        tags=TAG_GROUPS,
        parameters=[_GROUP_ID],
        request=s.GroupPictureInput,
        responses={200: s.GroupOutput, **error_answers(_IN_GROUP)},
        summary="Set the group's picture (a JPEG)",
    )
    def put(self, request: Any, session_id: str, group_id: str) -> Any:
        session = self.get_session(session_id)
        image = validated(s.GroupPictureInput, request.data)["image"]
        changes = {"picture": image}
        return envelope(group_call(session=session, op="update", group=group_id, changes=changes))

    @extend_schema(
        tags=TAG_GROUPS,
        parameters=[_GROUP_ID],
        request=None,
        responses={200: s.GroupOutput, **error_answers(_IN_GROUP)},
        summary="Remove the group's picture",
    )
    def delete(self, request: Any, session_id: str, group_id: str) -> Any:
        session = self.get_session(session_id)
        changes = {"picture": None}
        return envelope(group_call(session=session, op="update", group=group_id, changes=changes))


class GroupParticipantsApi(SessionApiView):
    @extend_schema(
        tags=TAG_GROUPS,
        parameters=[_GROUP_ID],
        request=s.ParticipantsInput,
        responses={200: s.ParticipantResultOutput(many=True), **error_answers(_IN_GROUP)},
        examples=[
            OpenApiExample(
                "add",
                value={"action": "add", "participants": ["+62 812-0000-0003"]},
                request_only=True,
            ),
            OpenApiExample(
                "privacy refuses the add",
                value=[
                    {
                        "jid": "6281200000003@s.whatsapp.net",
                        "result": "invite_required",
                        "invite": {"code": "AbCdEf123456", "expiresAt": "2026-12-10T09:00:00Z"},
                    }
                ],
                response_only=True,
            ),
        ],
        summary="Add, remove, promote or demote participants",
        description=(
            "One result per participant, in order: added, already_participant, "
            "not_on_whatsapp, invite_required (their privacy settings refuse being added: "
            "WhatsApp offers an invite to send them instead), removed, not_participant, "
            "promoted, demoted, failed."
        ),
    )
    def post(self, request: Any, session_id: str, group_id: str) -> Any:
        session = self.get_session(session_id)
        body = validated(s.ParticipantsInput, request.data)
        return envelope(group_call(session=session, op="participants", group=group_id, **body))


class GroupInviteApi(SessionApiView):
    @extend_schema(
        tags=TAG_GROUPS,
        parameters=[_GROUP_ID],
        responses={200: s.InviteOutput, **error_answers(_IN_GROUP)},
        summary="The group's invite link (admins)",
    )
    def get(self, request: Any, session_id: str, group_id: str) -> Any:
        session = self.get_session(session_id)
        return envelope(group_call(session=session, op="invite_link", group=group_id))


class GroupInviteRevokeApi(SessionApiView):
    @extend_schema(
        tags=TAG_GROUPS,
        parameters=[_GROUP_ID],
        request=None,
        responses={200: s.InviteOutput, **error_answers(_IN_GROUP)},
        summary="Revoke the invite link; answers its successor",
    )
    def post(self, request: Any, session_id: str, group_id: str) -> Any:
        session = self.get_session(session_id)
        return envelope(group_call(session=session, op="invite_link", group=group_id, reset=True))


class GroupLeaveApi(SessionApiView):
    @extend_schema(
        tags=TAG_GROUPS,
        parameters=[_GROUP_ID],
        request=None,
        responses={200: None, **error_answers(_IN_GROUP)},
        summary="Leave the group",
    )
    def post(self, request: Any, session_id: str, group_id: str) -> Any:
        session = self.get_session(session_id)
        return envelope(group_call(session=session, op="leave", group=group_id))


_INVITE = {**_NODE, 404: "`session_not_found`, `invite_invalid`.", 400: "`invite_invalid`."}


class GroupJoinApi(SessionApiView):
    @extend_schema(
        tags=TAG_GROUPS,
        request=s.InviteInput,
        responses={200: s.JoinedOutput, **error_answers(_INVITE)},
        summary="Join a group by its invite link or code",
    )
    def post(self, request: Any, session_id: str) -> Any:
        session = self.get_session(session_id)
        code = validated(s.InviteInput, request.data)["invite"]
        return envelope(group_call(session=session, op="join", code=code))


class GroupInviteInfoApi(SessionApiView):
    @extend_schema(
        tags=TAG_GROUPS,
        parameters=[
            OpenApiParameter(
                "code",
                {"type": "string", "pattern": "^[A-Za-z0-9]{10,40}$"},
                location=OpenApiParameter.PATH,
            )
        ],
        responses={200: s.GroupOutput, **error_answers(_INVITE)},
        summary="What an invite leads to, before joining",
    )
    def get(self, request: Any, session_id: str, code: str) -> Any:
        session = self.get_session(session_id)
        if invite_code(code) is None:
            raise GroupInviteInvalid()
        return envelope(group_call(session=session, op="invite_info", code=code))
