from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("signup", views.signup, name="signup"),
    path("login", views.login_view, name="login"),
    path("logout", views.logout_view, name="logout"),
    path("api-keys", views.api_keys, name="api_keys"),
    path("api-keys/<int:api_key_id>/revoke", views.api_key_revoke_view, name="api_key_revoke"),
]
