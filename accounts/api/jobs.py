"""Operators' API for the periodic jobs: list them, run one now or for a missed period, list its runs.

A run is recorded and queued (202); a worker on the job's queue runs it and
stores its outcome on the run (``accounts.jobs``). A run needs an
Idempotency-Key like every money-moving request: a retried POST queues once.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import operator_with
from accounts.api.views import IDEMPOTENCY_HEADER
from accounts.idempotency import MoneyMovingApi, idempotent
from accounts.jobs import (
    RUN_MONEY_PERMISSION,
    RUN_PERMISSION,
    job_at_parse,
    job_crontab,
    job_find,
    job_next_fire,
    job_period,
    job_run_allowed,
    job_run_list,
    job_run_request,
    job_runs_recent,
)
from accounts.models import JobRunVia
from config.api import ErrorSerializer
from config.errors import ServiceError
from config.schedules import JOBS, Job

VIEW_PERMISSION = "accounts.view_jobrun"
NAME_PATH = OpenApiParameter("name", str, OpenApiParameter.PATH, description="The job's name, e.g. `funding`.")
ERRORS = {401: ErrorSerializer, 403: ErrorSerializer}


@extend_schema_field(OpenApiTypes.DATETIME)
class AtField(serializers.Field):
    """An ISO 8601 date and time with its UTC offset; a time without one is refused, not guessed."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError("must be an ISO 8601 date and time string")
        try:
            return job_at_parse(data)
        except ServiceError as exc:
            raise serializers.ValidationError(exc.fields["at"][0]) from None

    def to_representation(self, value: datetime):
        return value.isoformat()


class JobRunOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    job = serializers.CharField()
    period = serializers.DateTimeField(help_text="The fire time (UTC) this run stands for.")
    at = serializers.DateTimeField(help_text="The time asked for.")
    via = serializers.CharField()
    actor = serializers.EmailField(source="actor.email", allow_null=True, default=None)
    reason = serializers.CharField()
    status = serializers.ChoiceField(choices=["queued", "running", "succeeded", "failed"])
    result = serializers.JSONField(allow_null=True, help_text="What the job returned (e.g. how many it settled).")
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class ScheduleOutputSerializer(serializers.Serializer):
    minute = serializers.CharField()
    hour = serializers.CharField()
    day_of_week = serializers.CharField()
    day_of_month = serializers.CharField()
    month_of_year = serializers.CharField()
    timezone = serializers.CharField()


class JobOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    task = serializers.CharField()
    description = serializers.CharField()
    queue = serializers.CharField()
    moves_money = serializers.BooleanField(help_text="Running it needs Finance's permission and a reason.")
    has_period = serializers.BooleanField(help_text="False: it works on the present state and runs only for now.")
    schedule = ScheduleOutputSerializer(allow_null=True, help_text="Beat's crontab, operators' edits included.")
    last_fire = serializers.DateTimeField(allow_null=True, help_text="The period a run for now stands for.")
    next_fire = serializers.DateTimeField(allow_null=True)
    recent_runs = JobRunOutputSerializer(many=True, help_text="The latest manual runs, newest first.")


def _job_or_404(name: str) -> Job:
    job = job_find(name=name)
    if job is None:
        raise NotFound(f"no periodic job is called {name!r}")
    return job


def _job_row(job: Job, now: datetime, runs: list) -> dict:
    try:
        crontab = job_crontab(job=job)
    except ServiceError:  # an operator moved it off crontab: listed, without a schedule
        return {**asdict(job), "schedule": None, "last_fire": None, "next_fire": None, "recent_runs": runs}
    schedule = {
        "minute": crontab.minute,
        "hour": crontab.hour,
        "day_of_week": crontab.day_of_week,
        "day_of_month": crontab.day_of_month,
        "month_of_year": crontab.month_of_year,
        "timezone": str(crontab.timezone),
    }
    return {
        **asdict(job),
        "schedule": schedule,
        "last_fire": job_period(job=job, at=now),
        "next_fire": job_next_fire(job=job, after=now),
        "recent_runs": runs,
    }


class JobListApi(APIView):
    permission_classes = [operator_with(VIEW_PERMISSION)]

    @extend_schema(
        operation_id="ops_jobs_list",
        summary="List the periodic jobs",
        description=(
            "Every periodic job with its beat schedule (operators' edits included), whether it moves money, "
            "the period a run for now stands for, and its latest manual runs."
        ),
        tags=["ops"],
        responses={200: JobOutputSerializer(many=True), **ERRORS},
    )
    def get(self, request):
        now = timezone.now()
        recent = job_runs_recent(names=[job.name for job in JOBS])
        rows = [_job_row(job, now, recent[job.name]) for job in JOBS]
        return Response(JobOutputSerializer(rows, many=True).data)


class JobRunListCreateApi(MoneyMovingApi, GenericAPIView):
    serializer_class = JobRunOutputSerializer

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "OpsJobRunCreateInput"

        at = AtField(
            required=False,
            help_text="Run for the period the crontab fired last at or before this time (default: now); "
            "never in the future.",
        )
        reason = serializers.CharField(
            max_length=500, required=False, allow_blank=True, default="", help_text="Required if it moves money."
        )

    def get_permissions(self):
        return [operator_with(RUN_PERMISSION if self.request.method == "POST" else VIEW_PERMISSION)()]

    @extend_schema(
        operation_id="ops_job_runs_list",
        summary="List a job's manual runs",
        description="The manual runs of one periodic job, newest first, with their period, status and outcome.",
        tags=["ops"],
        parameters=[NAME_PATH],
        responses={200: JobRunOutputSerializer(many=True), 404: ErrorSerializer, **ERRORS},
    )
    def get(self, request, name: str):
        job = _job_or_404(name)
        page = self.paginate_queryset(job_run_list(name=job.name))
        return self.get_paginated_response(JobRunOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="ops_job_runs_create",
        summary="Run a job now or for a missed period",
        description=(
            "Records a manual run of the job for the latest time its crontab fires at or before `at` (default: "
            "now) and queues it; the run's status and result follow on the run. The job reaches the same "
            "per-period keys as beat's own run, so the two never both pay. A future `at` is refused. Jobs that "
            "move money need the `accounts.run_money_job` permission (Finance) and a reason."
        ),
        tags=["ops"],
        parameters=[NAME_PATH, IDEMPOTENCY_HEADER],
        request=InputSerializer,
        responses={
            202: JobRunOutputSerializer,
            400: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
            422: ErrorSerializer,
            **ERRORS,
        },
    )
    def post(self, request, name: str):
        job = _job_or_404(name)
        if not job_run_allowed(job=job, user=request.user):
            raise PermissionDenied(f"{job.name} moves money: requires the '{RUN_MONEY_PERMISSION}' permission")
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)

        def execute():
            run = job_run_request(
                name=job.name,
                at=data.validated_data.get("at"),
                actor=request.user,
                reason=data.validated_data["reason"],
                via=JobRunVia.API,
            )
            return Response(JobRunOutputSerializer(run).data, status=status.HTTP_202_ACCEPTED)

        return idempotent(request, "ops-job-runs", execute)
