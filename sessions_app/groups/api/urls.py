"""Routes of the groups API, under /api/v1/sessions/{id}/groups."""

from django.urls import path

from sessions_app.groups.api import views

_AT = "sessions/<id:session_id>/groups"

urlpatterns = [
    path(_AT, views.GroupListCreateApi.as_view(), name="groups"),
    path(f"{_AT}/join", views.GroupJoinApi.as_view(), name="groups-join"),
    path(
        f"{_AT}/invites/<str:code>", views.GroupInviteInfoApi.as_view(), name="groups-invite-info"
    ),
    path(f"{_AT}/<group:group_id>", views.GroupDetailApi.as_view(), name="group"),
    path(f"{_AT}/<group:group_id>/picture", views.GroupPictureApi.as_view(), name="group-picture"),
    path(
        f"{_AT}/<group:group_id>/participants",
        views.GroupParticipantsApi.as_view(),
        name="group-participants",
    ),
    path(f"{_AT}/<group:group_id>/invite", views.GroupInviteApi.as_view(), name="group-invite"),
    path(
        f"{_AT}/<group:group_id>/invite/revoke",
        views.GroupInviteRevokeApi.as_view(),
        name="group-invite-revoke",
    ),
    path(f"{_AT}/<group:group_id>/leave", views.GroupLeaveApi.as_view(), name="group-leave"),
]
