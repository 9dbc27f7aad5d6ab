from django.urls import path

from console import api, dead_letters, people, rules, views

app_name = "console"

urlpatterns = [
    path("", views.console_home, name="home"),
    path("overview/", views.console_overview, name="overview"),
    path("api/overview", api.OverviewApiView.as_view(), name="api-overview"),
    path("rules/", rules.console_rules, name="rules"),
    path("rules/<str:kind>/", rules.console_rules, name="rules-kind"),
    path("people/", people.people_page, name="people"),
    path(
        "api/people/<int:user_pk>/timeline/",
        people.person_timeline_json,
        name="person-timeline-json",
    ),
    path("dead-letters/", dead_letters.dead_letters_page, name="dead-letters"),
    path(
        "api/dead-letters/requeue/",
        dead_letters.dead_letters_requeue,
        name="dead-letters-requeue",
    ),
    path("api/dead-letters/", dead_letters.dead_letters_json, name="dead-letters-json"),
    path("login/", views.ConsoleLoginView.as_view(), name="login"),
    path("logout/", views.ConsoleLogoutView.as_view(), name="logout"),
]
