from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import ApiKey, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ("-created_at",)
    list_display = ("email", "name", "role", "tier", "is_active", "is_staff", "created_at")
    list_filter = ("role", "tier", "is_active", "is_staff")
    search_fields = ("email", "name")
    readonly_fields = ("created_at", "last_login")
    fieldsets = (
        (None, {"fields": ("email", "password", "name")}),
        ("Plan", {"fields": ("role", "tier")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("created_at", "last_login")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "password1", "password2", "tier")}),
    )
    filter_horizontal = ("groups",)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("prefix", "name", "owner", "session", "is_active", "last_used", "created_at")
    list_filter = ("is_active", "created_at")
    search_fields = ("prefix", "name", "owner__email", "session__id")
    readonly_fields = ("prefix", "key_hash", "last_used", "created_at")
    raw_id_fields = ("owner", "session")
    actions = ["revoke"]

    def has_add_permission(self, request):  # keys are issued by the app, which shows them once
        return False

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        queryset.update(is_active=False)
