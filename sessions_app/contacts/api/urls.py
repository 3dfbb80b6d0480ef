"""Routes of the contacts and profile API, under /api/v1/sessions/{id}/."""

from django.urls import path

from sessions_app.contacts.api import views

_AT = "sessions/<id:session_id>"

urlpatterns = [
    path(f"{_AT}/contacts", views.ContactListApi.as_view(), name="contacts"),
    path(f"{_AT}/contacts/<str:contact>", views.ContactDetailApi.as_view(), name="contact"),
    path(
        f"{_AT}/contacts/<str:contact>/picture",
        views.ContactPictureApi.as_view(),
        name="contact-picture",
    ),
    path(
        f"{_AT}/contacts/<str:contact>/block", views.ContactBlockApi.as_view(), name="contact-block"
    ),
    path(
        f"{_AT}/contacts/<str:contact>/unblock",
        views.ContactUnblockApi.as_view(),
        name="contact-unblock",
    ),
    path(f"{_AT}/blocklist", views.BlocklistApi.as_view(), name="blocklist"),
    path(f"{_AT}/lids/<str:contact>", views.LidLookupApi.as_view(), name="lid"),
    path(f"{_AT}/profile", views.OwnProfileApi.as_view(), name="profile"),
    path(f"{_AT}/profile/picture", views.OwnPictureApi.as_view(), name="profile-picture"),
]
