"""`make run`'s worker without a broker: requests on a Unix socket, the same tasks, no queue."""

import re
import socket
import threading
import uuid

import pytest
from django.core.management import CommandError
from structlog.testing import capture_logs

from midnite_test.celery import app as celery_app
from outbox.management.commands.clickhouse_query import Command as ClickHouseQueryCommand
from outbox.embedded_worker import EmbeddedWorker, _requests_drain, request_parse
from outbox.models import WorkerHeartbeat
from outbox.schedule_runner import ScheduleRunner, TaskRequest
from outbox.services import outbox_wake
from outbox.tasks import (
    clickhouse_heartbeat_record_task,
    clickhouse_query_readonly_task,
    outbox_process_many_task,
)
from outbox.worker_channel import task_send


@pytest.fixture
def socket_path(settings, tmp_path):
    settings.EMBEDDED_WORKER_SOCKET = str(tmp_path / "worker.sock")
    return settings.EMBEDDED_WORKER_SOCKET


@pytest.fixture
def listening(socket_path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as channel:
        channel.bind(socket_path)
        yield channel


def test_requests_sent_while_the_worker_is_busy_run_once_each(listening):
    for _ in range(3):
        task_send(outbox_process_many_task, args=(["analytics", "metrics"],))
    task_send(clickhouse_heartbeat_record_task)
    task_send(outbox_process_many_task, args=(["notifications"],))

    assert _requests_drain(listening) == [
        TaskRequest(task="outbox.outbox_process_many", args=(("analytics", "metrics"),)),
        TaskRequest(task="outbox.clickhouse_heartbeat_record", args=()),
        TaskRequest(task="outbox.outbox_process_many", args=(("notifications",),)),
    ]
    assert _requests_drain(listening) == []


def test_a_full_socket_drops_a_wake_up_quietly_and_never_blocks_the_sender(listening):
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)

    for _ in range(10_000):
        task_send(outbox_process_many_task, args=(["analytics"],))

    assert _requests_drain(listening) == [
        TaskRequest(task="outbox.outbox_process_many", args=(("analytics",),))
    ]


def test_a_full_socket_refuses_a_request_whose_caller_waits_for_the_answer(listening):
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)

    with pytest.raises(BlockingIOError):
        for n in range(10_000):
            task_send(clickhouse_query_readonly_task, args=("SELECT 1",), task_id=str(n))


def test_a_wake_up_with_no_worker_listening_is_dropped_quietly(socket_path, settings):
    """The worker is starting, or starting again (bin/run-embedded logs that): its sweep runs."""
    settings.OUTBOX_WAKEUP_INTERVAL = 0

    with capture_logs() as logs:
        outbox_wake(consumers=["analytics"])
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as gone:
            gone.bind(socket_path)  # a socket file left by a worker that was killed
        outbox_wake(consumers=["analytics"])

    assert logs == []


def test_a_query_with_no_worker_listening_fails_at_once(socket_path):
    with pytest.raises(FileNotFoundError):
        task_send(clickhouse_query_readonly_task, args=("SELECT 1",), task_id="q1")


@pytest.mark.parametrize(
    "datagram",
    [
        b"not json",
        b"[]",
        b'{"args": []}',
        b'{"task": 1}',
        b'{"task": "outbox.outbox_relay", "id": 7}',
        b'{"task": "outbox.outbox_relay", "args": [{"consumer": "analytics"}]}',
    ],
)
def test_a_malformed_request_is_dropped_and_logged(datagram):
    with capture_logs() as logs:
        assert request_parse(datagram) is None

    assert [log["event"] for log in logs] == ["worker.request_malformed"]


@pytest.fixture
def worker(socket_path):
    """An embedded worker running in a thread; Celery's eager setting restored after it."""
    conf = celery_app.conf
    saved = conf.task_always_eager
    worker = EmbeddedWorker(app=celery_app, socket_path=socket_path)
    thread = threading.Thread(target=worker.run)
    thread.start()
    assert worker.listening.wait(timeout=10), "the worker never listened"
    yield worker
    worker.stop()
    thread.join(timeout=10)
    conf.task_always_eager = saved
    assert not thread.is_alive()


# The caller waits in the worker's own process here, where Celery warns that eager mode is on.
@pytest.mark.filterwarnings("ignore:Results are not stored:RuntimeWarning")
@pytest.mark.django_db(transaction=True)
def test_the_worker_reports_at_once_and_answers_a_query_its_caller_waits_for(worker, event_log):
    task_id = str(uuid.uuid4())

    task_send(clickhouse_query_readonly_task, args=("SELECT 6 * 7 AS answer",), task_id=task_id)
    answer = clickhouse_query_readonly_task.AsyncResult(task_id).get(timeout=10)

    assert answer == {"columns": ["answer"], "rows": [["42"]]}
    assert WorkerHeartbeat.objects.get(name=WorkerHeartbeat.CLICKHOUSE).ok


@pytest.mark.filterwarnings("ignore:Results are not stored:RuntimeWarning")
@pytest.mark.django_db(transaction=True)
def test_a_null_in_the_workers_answer_is_tab_separated_as_clickhouse_prints_it(worker, event_log):
    """`clickhouse_query` under `make run` prints the worker's answer: NULL as \\N there too."""
    task_id = str(uuid.uuid4())

    task_send(clickhouse_query_readonly_task, args=("SELECT 1 AS a, NULL AS b",), task_id=task_id)
    answer = clickhouse_query_readonly_task.AsyncResult(task_id).get(timeout=10)

    assert answer == {"columns": ["a", "b"], "rows": [["1", "\\N"]]}


@celery_app.task(name="tests.failing", ignore_result=True)
def _failing_task() -> None:
    raise RuntimeError("a bug")


def test_a_failing_task_is_logged_and_the_worker_goes_on():
    runner = ScheduleRunner(app=celery_app, schedule={})

    with capture_logs() as logs:
        runner.task_run(TaskRequest(task="tests.failing", args=()))
        runner.task_run(TaskRequest(task="no.such_task", args=()))

    assert [(log["event"], log.get("task")) for log in logs] == [
        ("worker.task_failed", "tests.failing"),
        ("worker.unknown_task", "no.such_task"),
    ]


# The caller waits in the worker's own process here, where Celery warns that eager mode is on.
@pytest.mark.filterwarnings("ignore:Results are not stored:RuntimeWarning")
@pytest.mark.django_db(transaction=True)
def test_a_query_clickhouse_refuses_is_a_warning_of_the_worker_and_an_error_line_of_the_command(
    worker, event_log
):
    with capture_logs() as logs, pytest.raises(CommandError) as raised:
        ClickHouseQueryCommand()._through_worker("SELEC 1", timeout=10)

    assert re.fullmatch(
        r"ClickHouse refused the query: Code: 62\. [^\n]*SYNTAX_ERROR\)", str(raised.value)
    )
    assert "FORMAT Native" not in str(raised.value)
    [refused] = [log for log in logs if log["event"] == "clickhouse.query_refused"]
    assert refused["log_level"] == "warning"
    assert "traceback" not in refused and refused["error"] == str(raised.value)
    assert [log for log in logs if log["log_level"] == "error"] == []


def test_a_socket_path_too_long_for_the_system_is_refused_by_name(tmp_path):
    path = str(tmp_path / ("x" * 120) / "worker.sock")

    with pytest.raises(ValueError, match="set VAR_DIR to a shorter folder"):
        EmbeddedWorker(app=celery_app, socket_path=path)


_long_task_may_end = threading.Event()
_long_task_threads: list[str] = []


@celery_app.task(name="tests.long_running", ignore_result=True, long_running=True)
def _long_running_task() -> None:
    _long_task_threads.append(threading.current_thread().name)
    assert _long_task_may_end.wait(timeout=10), "the test never let the long task end"


def test_a_long_running_task_runs_on_its_own_thread_one_at_a_time():
    runner = ScheduleRunner(app=celery_app, schedule={})
    _long_task_may_end.clear()
    _long_task_threads.clear()

    runner.task_run(TaskRequest(task="tests.long_running", args=()))
    with capture_logs() as logs:
        runner.task_run(TaskRequest(task="tests.long_running", args=()))
    # The loop's thread is free meanwhile: this returned, and so does another task.
    runner.task_run(TaskRequest(task="no.such_task", args=()))
    _long_task_may_end.set()
    runner._long_running.join(timeout=10)

    assert _long_task_threads == ["tests.long_running"]
    assert [log["event"] for log in logs] == ["worker.long_running_busy"]
    assert not runner._long_running.is_alive()
