from django.urls import path

from accounts.api import auth, jobs, records, views

urlpatterns = [
    path("auth/register", auth.RegisterApi.as_view(), name="api-register"),
    path("auth/token", auth.TokenApi.as_view(), name="api-token"),
    path("me", auth.MeApi.as_view(), name="api-me"),
    path("accounts", views.AccountListApi.as_view(), name="api-accounts"),
    path("accounts/<int:account_id>/records", records.AccountRecordListApi.as_view(), name="api-account-records"),
    path("transfers", views.TransferCreateApi.as_view(), name="api-transfers"),
    path("withdrawals", views.WithdrawalListCreateApi.as_view(), name="api-withdrawals"),
    path("ops/deposits", views.OpsDepositCreateApi.as_view(), name="api-ops-deposits"),
    path(
        "ops/withdrawals/<int:withdrawal_id>/approve",
        views.OpsWithdrawalApproveApi.as_view(),
        name="api-ops-withdrawal-approve",
    ),
    path(
        "ops/withdrawals/<int:withdrawal_id>/reject",
        views.OpsWithdrawalRejectApi.as_view(),
        name="api-ops-withdrawal-reject",
    ),
    path("ops/jobs", jobs.JobListApi.as_view(), name="api-ops-jobs"),
    path("ops/jobs/<slug:name>/runs", jobs.JobRunListCreateApi.as_view(), name="api-ops-job-runs"),
]
