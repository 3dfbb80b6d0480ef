from django.contrib.auth import views as auth
from django.urls import path, reverse_lazy

from accounts import views

app_name = "accounts"

# Password reset is Django's own views with our templates (change: views.PasswordChange).
password_urls = [
    path("account/password", views.PasswordChange.as_view(), name="password_change"),
    path(
        "password-reset",
        auth.PasswordResetView.as_view(
            template_name="accounts/password_reset.html",
            email_template_name="accounts/password_reset_email.txt",
            subject_template_name="accounts/password_reset_subject.txt",
            success_url=reverse_lazy("accounts:password_reset_sent"),
        ),
        name="password_reset",
    ),
    path(
        "password-reset/sent",
        auth.PasswordResetDoneView.as_view(template_name="accounts/password_reset_sent.html"),
        name="password_reset_sent",
    ),
    path(
        "password-reset/<uidb64>/<token>",
        auth.PasswordResetConfirmView.as_view(
            template_name="accounts/password_reset_confirm.html",
            success_url=reverse_lazy("accounts:password_reset_done"),
        ),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done",
        auth.PasswordResetCompleteView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
]

urlpatterns = [
    path("signup", views.signup, name="signup"),
    path("signup/verify/<str:token>", views.signup_verify_view, name="signup_verify"),
    path("login", views.login_view, name="login"),
    path("logout", views.logout_view, name="logout"),
    path("account", views.account, name="account"),
    *password_urls,
    path("api-keys", views.api_keys, name="api_keys"),
    path("api-keys/<int:api_key_id>/revoke", views.api_key_revoke_view, name="api_key_revoke"),
]
