from django.urls import path

from workspace import views

app_name = "workspace"

urlpatterns = [
    path("search/", views.search, name="search"),
    path("tasks/next/", views.work_next, name="next"),
]
