from django.urls import path

from rule_sets import views

urlpatterns = [
    path(
        "api/v1/rules/backtests/<str:backtest_id>",
        views.RuleSetBacktestView.as_view(),
        name="rule-set-backtest",
    ),
    path(
        "api/v1/rules/<str:kind>/versions",
        views.RuleSetVersionsView.as_view(),
        name="rule-set-versions",
    ),
    path(
        "api/v1/rules/<str:kind>/versions/<int:n>",
        views.RuleSetVersionView.as_view(),
        name="rule-set-version",
    ),
    path(
        "api/v1/rules/<str:kind>/versions/<int:n>/activate",
        views.RuleSetActivateView.as_view(),
        name="rule-set-version-activate",
    ),
    path(
        "api/v1/rules/<str:kind>/versions/<int:n>/backtests",
        views.RuleSetBacktestCreateView.as_view(),
        name="rule-set-backtests",
    ),
    path(
        "api/v1/rules/<str:kind>/active", views.RuleSetActiveView.as_view(), name="rule-set-active"
    ),
]
