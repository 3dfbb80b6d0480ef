"""Admin pages for users and API keys.

A user's e-mail is kept lower case, as sign-up and login read it; deleting a user deletes their
sessions through `session_delete`, which tells the nodes. Keys are issued by the app (it shows
a secret once), so they cannot be added here, and whose key it is cannot be changed.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import ApiKey, User
from accounts.services import user_reactivate, user_suspend
from billing.admin import PlanOverrideInline
from billing.services import quota_recount
from gateway.admin import ReadOnlyAdmin
from sessions_app.sessions.services import session_delete


class UserAddForm(AdminUserCreationForm):
    """Django's admin user form for an e-mail login: the e-mail lower case, and unique so."""

    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("email", "plan")

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email=email).exists():
            raise ValidationError("A user with this e-mail already exists.")
        return email


def _delete_users(users: QuerySet[User] | list[User]) -> None:
    for user in users:
        for session in user.wa_sessions.all():
            session_delete(owner=user, session=session)
        user.delete()


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    add_form = UserAddForm
    ordering = ("-created_at",)
    list_display = ("email", "name", "role", "plan", "suspended_at", "is_active", "created_at")
    list_filter = ("role", "plan", "is_active", "is_staff")
    search_fields = ("email", "name")
    readonly_fields = ("created_at", "last_login", "suspended_at")
    inlines = [PlanOverrideInline]
    actions = ["suspend", "reactivate"]
    fieldsets = (
        (None, {"fields": ("email", "password", "name")}),
        ("Plan", {"fields": ("role", "plan", "suspended_at")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("created_at", "last_login")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "password1", "password2", "plan")}),
    )
    filter_horizontal = ("groups",)

    @admin.action(description="Suspend selected users (keys refused, sessions disconnected)")
    def suspend(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            user_suspend(user=user, reason=f"by {request.user}")

    @admin.action(description="Reactivate selected users")
    def reactivate(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            user_reactivate(user=user)

    def save_model(self, request: HttpRequest, obj: User, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and "plan" in form.changed_data:
            quota_recount(user_id=obj.id)  # a quota that starts to apply counts from today's sends

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        super().save_formset(request, form, formset, change)
        quota_recount(user_id=form.instance.id)  # overrides may have set a quota

    def get_inlines(self, request: HttpRequest, obj: User | None) -> list:
        return self.inlines if obj is not None else []  # overrides once the user exists

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        _delete_users([obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        _delete_users(queryset)


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    list_display = ("prefix", "name", "owner", "session", "is_active", "last_used", "created_at")
    list_filter = ("is_active", "created_at")
    search_fields = ("prefix", "name", "owner__email", "session__id")
    readonly_fields = ("owner", "session", "prefix", "key_hash", "last_used", "created_at")
    actions = ["revoke"]

    @admin.action(description="Revoke selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        queryset.update(is_active=False)
