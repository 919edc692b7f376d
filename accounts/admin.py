from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from accounts.admin_filters import input_filter
from accounts.models import Account, ApiToken, SavedView, Team, User
from accounts.pagination import BookPaginator
from accounts.services import (
    ACCOUNT_FIELDS,
    SavedViewInvalid,
    account_upsert,
    account_validate,
    accounts_delete,
    saved_view_create,
    saved_view_update,
    saved_view_validate,
    saved_views_delete,
)
from accounts.tokens import api_token_create, api_token_revoke, scopes_validate
from scoring.selectors import band_names


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "get_full_name", "email", "role", "is_active", "last_login"]
    list_filter = ["role", "is_active", "is_superuser", "teams"]
    fieldsets = [
        *(DjangoUserAdmin.fieldsets or ()),
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
    # Picked by search: a large installation has thousands of users.
    autocomplete_fields = ["members", "managers"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("members", "managers")

    @admin.display(description="Members")
    def member_count(self, team: Team) -> int:
        return len(team.members.all())

    @admin.display(description="Managers")
    def manager_names(self, team: Team) -> str:
        return ", ".join(str(m) for m in team.managers.all())


class RulesChoiceField(forms.ChoiceField):
    """A choice the account rules check (``accounts_validate``): a value or its label,
    in any case, as in CSV import and the API; the select offers the values."""

    def validate(self, value) -> None:
        forms.Field.validate(self, value)


class AccountForm(forms.ModelForm):
    """The account form of admin, checked by the same rules as every other door.

    The form's fields only parse what was typed (a date, a number, the chosen owner);
    ``clean`` then hands the account's fields — all of them for a new account, those
    that changed otherwise — to ``account_validate`` and puts each error on its field,
    and its cleaned values (a normalised domain, a choice's value) in ``cleaned_data``.
    """

    segment = RulesChoiceField(choices=Account.Segment.choices, initial=Account.Segment.SMB)
    lifecycle_stage = RulesChoiceField(
        choices=Account.Stage.choices, initial=Account.Stage.ONBOARDING
    )

    class Meta:
        model = Account
        fields = list(ACCOUNT_FIELDS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Lengths, digits and the like are the rules' to check, in their words.
        for name in ACCOUNT_FIELDS:
            if name in self.fields:
                self.fields[name].validators = []

    def clean(self):
        super().clean()
        cleaned_data = self.cleaned_data
        adding = self.instance.pk is None
        names = [
            name
            for name in ACCOUNT_FIELDS
            if name in cleaned_data and (adding or name in self.changed_data)
        ]
        data = {name: cleaned_data[name] for name in names}
        if isinstance(data.get("owner"), User):
            data["owner"] = data["owner"].username
        if "parent" in data:
            # By external id, as every door names a parent; the account's own id lets
            # the rules refuse itself and its subsidiaries.
            data["parent"] = data["parent"].external_id if data["parent"] else None
            data.setdefault("external_id", self.instance.external_id)
        validation = account_validate(data=data, partial=not adding)
        for name, messages_ in validation.errors.items():
            if name not in self.errors:  # a field the form could not read says so already
                self.add_error(name if name in self.fields else None, messages_)
        # The parent stays the chosen account here; the write takes its external id.
        cleaned_data.update(
            {name: value for name, value in validation.cleaned.items() if name != "parent"}
        )
        self.account_changes = {
            name: validation.cleaned[name]
            for name in names
            if name in validation.cleaned and name != "external_id"
        }
        return cleaned_data


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    form = AccountForm
    # A million rows: count exactly only up to a limit, one count, an order along an index.
    paginator = BookPaginator
    show_full_result_count = False
    ordering = ["name", "id"]
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
        # Typed in, not listed: a plan's choices would be a DISTINCT over every account,
        # an owner's every user (accounts/admin_filters.py).
        input_filter(title="plan (exact)", parameter_name="plan", lookup="plan"),
        input_filter(title="owner (username)", parameter_name="owner", lookup="owner__username"),
        ("renewal_date", admin.DateFieldListFilter),
        ("churned_at", admin.EmptyFieldListFilter),
    ]
    search_fields = ["name", "external_id", "domain"]
    list_select_related = ["owner"]
    autocomplete_fields = ["owner"]
    # An id typed or picked from the account list's popup: a select would list the book.
    raw_id_fields = ["parent"]
    list_per_page = 50
    readonly_fields = ["created_at", "updated_at", "subsidiaries"]
    fieldsets = [
        (None, {"fields": ["external_id", "name", "domain", "owner"]}),
        ("Hierarchy", {"fields": ["parent", "subsidiaries"]}),
        ("Commercial", {"fields": ["segment", "plan", "lifecycle_stage", "arr"]}),
        ("Contract", {"fields": ["contract_start", "renewal_date", "churned_at"]}),
        ("More", {"fields": ["attributes", "created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        # The external id is how the CRM and the API find an account: fixed once created.
        base = list(self.readonly_fields)
        return base if obj is None else ["external_id", *base]

    @admin.display(description="Subsidiaries")
    def subsidiaries(self, account: Account) -> str:
        """The account's children, linked to their change forms (the first 50)."""
        if account.pk is None:
            return "—"
        children = list(
            account.children.order_by("name", "pk").values_list("pk", "name", "external_id")[:51]
        )
        if not children:
            return "—"
        links = format_html_join(
            ", ",
            '<a href="{}">{}</a> ({})',
            (
                (reverse("admin:accounts_account_change", args=[pk]), name, external_id)
                for pk, name, external_id in children[:50]
            ),
        )
        more = " and more" if len(children) > 50 else ""
        return format_html("{}{}", links, more)

    def save_model(self, request, obj: Account, form: AccountForm, change: bool) -> None:
        """Written through ``account_upsert``, the one write of accounts, with the values
        ``AccountForm.clean`` checked; ``obj`` is then the stored account."""
        account, _ = account_upsert(
            external_id=obj.external_id, arr_source="admin", **form.account_changes
        )
        obj.pk = account.pk
        obj.refresh_from_db()

    def delete_model(self, request, obj: Account) -> None:
        accounts_delete(accounts=Account.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset) -> None:
        accounts_delete(accounts=queryset)


class ApiTokenForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=ApiToken.Scope.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ApiToken
        fields = ["name", "scopes", "user", "expires_at"]

    def clean_scopes(self) -> list[str]:
        try:
            return scopes_validate(self.cleaned_data["scopes"])
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued here or by ``manage.py create_api_token``. The raw token is shown
    once, in a message after saving; only its hash is kept."""

    form = ApiTokenForm
    list_display = [
        "name",
        "shown_prefix",
        "scope_list",
        "user",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = [
        ("revoked_at", admin.EmptyFieldListFilter),
        input_filter(title="user (username)", parameter_name="user", lookup="user__username"),
    ]
    search_fields = ["name", "prefix", "user__username"]
    list_select_related = ["user"]
    autocomplete_fields = ["user"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        base = ["shown_prefix", "created_at", "last_used_at", "revoked_at"]
        # Who a token acts for is fixed at issue: to change it, issue another token.
        return base if obj is None else [*base, "user"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "scopes", "user", "expires_at"]
        return [
            "name",
            "shown_prefix",
            "scopes",
            "user",
            "expires_at",
            "created_at",
            "last_used_at",
            "revoked_at",
        ]

    @admin.display(description="Token", ordering="prefix")
    def shown_prefix(self, token: ApiToken) -> str:
        return f"vit_{token.prefix}_…" if token.prefix else "—"

    @admin.display(description="Scopes")
    def scope_list(self, token: ApiToken) -> str:
        return ", ".join(token.scopes)

    def save_model(self, request, obj: ApiToken, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        token, raw = api_token_create(
            name=obj.name, scopes=obj.scopes, user=obj.user, expires_at=obj.expires_at
        )
        obj.pk = token.pk
        obj.refresh_from_db()
        messages.warning(
            request,
            f"The new API token is {raw} — copy it now: it is stored hashed and will "
            "not be shown again.",
        )

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset) -> None:
        revoked = sum(api_token_revoke(token=token) for token in queryset)
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)


class SavedViewForm(forms.ModelForm):
    """A saved view in admin, checked by ``saved_view_validate`` as the pages and the API
    check it: the error shows on its field; the query is stored normalised."""

    class Meta:
        model = SavedView
        fields = ["owner", "name", "query", "team"]

    def clean(self):
        cleaned_data = super().clean() or {}
        owner = cleaned_data.get("owner") or getattr(self.instance, "owner", None)
        if self.errors or owner is None:
            return cleaned_data
        try:
            cleaned_data.update(
                saved_view_validate(
                    owner=owner,
                    name=cleaned_data.get("name", ""),
                    team=cleaned_data.get("team"),
                    query=cleaned_data.get("query", ""),
                    bands=band_names(),
                    view=self.instance if self.instance.pk else None,
                )
            )
        except SavedViewInvalid as refused:
            self.add_error(refused.field if refused.field in self.fields else None, refused.message)
        return cleaned_data


@admin.register(SavedView)
class SavedViewAdmin(admin.ModelAdmin):
    """Every write through ``accounts.services.saved_views``, as from the list page."""

    form = SavedViewForm
    list_display = ["name", "owner", "team", "query", "created_at"]
    list_filter = ["team"]
    search_fields = ["name", "owner__username", "query"]
    list_select_related = ["owner", "team"]
    autocomplete_fields = ["owner"]
    readonly_fields = ["created_at"]

    def get_readonly_fields(self, request, obj=None):
        # A view is its owner's: to give it to someone else, they save their own.
        return self.readonly_fields if obj is None else ["owner", *self.readonly_fields]

    def save_model(self, request, obj: SavedView, form: SavedViewForm, change: bool) -> None:
        data = form.cleaned_data
        if change:
            saved_view_update(
                view=obj,
                name=data["name"],
                team=data["team"],
                query=data["query"],
                bands=band_names(),
            )
            return
        view = saved_view_create(
            owner=data["owner"],
            name=data["name"],
            query=data["query"],
            team=data["team"],
            bands=band_names(),
            now=timezone.now(),
        )
        obj.pk = view.pk
        obj.refresh_from_db()

    def delete_model(self, request, obj: SavedView) -> None:
        saved_views_delete(views=SavedView.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset) -> None:
        saved_views_delete(views=queryset)
