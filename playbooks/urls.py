from django.urls import path

from playbooks import views

app_name = "playbooks"

urlpatterns = [
    path("tasks/", views.queue, name="queue"),
    path("tasks/done/", views.done, name="done"),
    path("tasks/export.csv", views.export, name="export"),
    path("tasks/new/", views.task_create, name="create"),
    path("tasks/<int:pk>/complete/", views.complete, name="complete"),
    path("tasks/<int:pk>/snooze/", views.snooze, name="snooze"),
    path("tasks/<int:pk>/reassign/", views.reassign, name="reassign"),
    path("tasks/<int:pk>/note/", views.task_note, name="task_note"),
    path("team/", views.team, name="team"),
    path("accounts/<int:pk>/notes/", views.account_note, name="account_note"),
    path("accounts/<int:pk>/timeline/", views.account_timeline_view, name="account_timeline"),
    path("accounts/<int:pk>/tasks/", views.account_task_create, name="account_task_create"),
]
