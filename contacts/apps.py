from django.apps import AppConfig


class ContactsConfig(AppConfig):
    """The people at a customer: contacts per account, with a role from a list an admin
    keeps (champion, decision maker, …), one primary contact, and who has left. It
    stands on accounts alone."""

    name = "contacts"
    verbose_name = "Contacts"
