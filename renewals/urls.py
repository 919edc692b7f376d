from django.urls import path

from renewals import views

app_name = "renewals"

urlpatterns = [
    path("renewals/", views.renewals_list, name="list"),
    path("renewals/<int:pk>/outcome/", views.outcome_create, name="record"),
    path("accounts/<int:pk>/outcomes/", views.account_outcomes_card, name="account"),
]
