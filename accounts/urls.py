from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("", views.account_list, name="list"),
    path("export.csv", views.account_export, name="export"),
    path("suggest/", views.account_suggest, name="suggest"),
    path("<int:pk>/", views.account_detail, name="detail"),
]
