from axes.admin import AccessAttemptAdmin
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from crm import services
from crm.models import Company, Contact, ContactIdentity, ContactMerge, Note, Tag


class ContactIdentityInline(admin.TabularInline):
    model = ContactIdentity
    extra = 0
    fields = ("kind", "external_id", "display_name", "last_seen_at")
    readonly_fields = ("last_seen_at",)


class NoteInline(admin.StackedInline):
    model = Note
    extra = 0
    fields = ("body", "author", "created_at")
    readonly_fields = ("author", "created_at")


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("id", "display_name", "primary_email", "primary_phone", "company", "language", "updated_at")
    list_display_links = ("id", "display_name")
    list_filter = ("tags", "language", "identities__kind", "company")
    search_fields = ("name", "emails", "phones", "identities__external_id", "company__name")
    autocomplete_fields = ("company",)
    filter_horizontal = ("tags",)
    inlines = (ContactIdentityInline, NoteInline)
    readonly_fields = ("created_at", "updated_at")
    actions = ("merge_into_oldest",)
    list_per_page = 50
    show_full_result_count = False

    def save_model(self, request, obj, form, change):
        # Admin's change view runs in a transaction: the hook events commit or roll back with the row.
        before = Contact.objects.filter(pk=obj.pk).first() if change else None
        super().save_model(request, obj, form, change)
        services.contact_saved_elsewhere(contact=obj, before=before)

    def save_formset(self, request, form, formset, change):
        for instance in formset.save(commit=False):
            if isinstance(instance, Note) and not instance.author_id:
                instance.author = request.user
            instance.save()
        for obj in formset.deleted_objects:
            obj.delete()
        formset.save_m2m()

    @admin.action(description=_("Merge selected contacts into the oldest one"), permissions=["merge"])
    def merge_into_oldest(self, request, queryset):
        contacts = list(queryset.order_by("created_at", "pk"))
        if len(contacts) < 2:
            self.message_user(request, gettext("Select at least two contacts to merge."), messages.WARNING)
            return
        target, sources = contacts[0], contacts[1:]
        try:
            for source in sources:
                services.contact_merge(source=source, target=target, merged_by=request.user)
        except ValidationError as exc:
            self.message_user(request, "; ".join(exc.messages), messages.ERROR)
            return
        self.message_user(
            request,
            gettext("Merged %(count)s contact(s) into #%(id)s %(name)s.")
            % {"count": len(sources), "id": target.pk, "name": target.display_name},
        )

    def has_merge_permission(self, request) -> bool:
        # A merge rewrites contacts: the merge permission and the right to change contacts.
        return request.user.has_perm("crm.merge_contacts") and self.has_change_permission(request)


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ("name", "domain", "contact_count", "created_at")
    search_fields = ("name", "domain")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(contact_count=Count("contacts"))

    @admin.display(ordering="contact_count", description=_("contacts"))
    def contact_count(self, obj) -> int:
        return obj.contact_count


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "color")
    search_fields = ("name",)


@admin.register(ContactIdentity)
class ContactIdentityAdmin(admin.ModelAdmin):
    list_display = ("kind", "external_id", "display_name", "contact", "last_seen_at")
    list_filter = ("kind",)
    search_fields = ("external_id", "display_name", "contact__name")
    raw_id_fields = ("contact",)


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):
    list_display = ("contact", "author", "created_at", "__str__")
    search_fields = ("body", "contact__name")
    raw_id_fields = ("contact",)
    list_filter = ("created_at",)


@admin.register(ContactMerge)
class ContactMergeAdmin(admin.ModelAdmin):
    list_display = ("source_id", "target", "merged_by", "merged_at")
    readonly_fields = ("target", "source_id", "source_snapshot", "moved", "merged_by", "merged_at")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


def _login_lockout_admin_actions() -> None:
    """django-axes' "Clean up expired attempts" deletes rows but names no permission, so Django would offer
    it to anyone who may view the failed log-ins: it needs the delete permission, as every action that
    changes state needs more than view (docs/security.md)."""
    AccessAttemptAdmin.cleanup_expired_attempts.allowed_permissions = ("delete",)


_login_lockout_admin_actions()
