from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.models import Account, Team, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "get_full_name", "email", "role", "is_active", "last_login"]
    list_filter = ["role", "is_active", "is_superuser", "teams"]
    fieldsets = [
        *DjangoUserAdmin.fieldsets,
        ("Customer success", {"fields": ["role"]}),
    ]
    add_fieldsets = [
        *DjangoUserAdmin.add_fieldsets,
        ("Customer success", {"fields": ["role", "email", "first_name", "last_name"]}),
    ]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "member_count", "manager_names"]
    search_fields = ["name", "members__username", "managers__username"]
    filter_horizontal = ["members", "managers"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("members", "managers")

    @admin.display(description="Members")
    def member_count(self, team: Team) -> int:
        return len(team.members.all())

    @admin.display(description="Managers")
    def manager_names(self, team: Team) -> str:
        return ", ".join(str(m) for m in team.managers.all())


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "external_id",
        "owner",
        "segment",
        "plan",
        "lifecycle_stage",
        "arr",
        "renewal_date",
        "churned_at",
    ]
    list_filter = [
        "segment",
        "lifecycle_stage",
        "plan",
        "owner",
        ("churned_at", admin.EmptyFieldListFilter),
    ]
    search_fields = ["name", "external_id", "domain"]
    list_select_related = ["owner"]
    autocomplete_fields = ["owner"]
    date_hierarchy = "renewal_date"
    list_per_page = 50
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["external_id", "name", "domain", "owner"]}),
        ("Commercial", {"fields": ["segment", "plan", "lifecycle_stage", "arr"]}),
        ("Contract", {"fields": ["contract_start", "renewal_date", "churned_at"]}),
        ("More", {"fields": ["attributes", "created_at", "updated_at"]}),
    ]
