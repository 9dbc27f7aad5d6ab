"""Celery tasks of the rule sets: run backtests (rule_sets.backtests).

A backtest runs for as long as its history takes: `long_running` puts it on a thread of its
own in `make run`'s embedded worker (outbox.embedded_worker), not in the way of the relay.
"""

import structlog
from celery import shared_task

from outbox.worker_channel import task_send

log = structlog.get_logger(__name__)


@shared_task(name="rule_sets.backtest_run", ignore_result=True, acks_late=True, long_running=True)
def rule_set_backtest_run_task(backtest_id: str) -> None:
    from rule_sets.backtests import rule_set_backtest_run

    rule_set_backtest_run(backtest_id)


@shared_task(
    name="rule_sets.backtests_run_pending", ignore_result=True, acks_late=True, long_running=True
)
def rule_set_backtests_run_pending_task() -> None:
    """The sweep: every backtest whose request was lost, or whose worker died."""
    from rule_sets.backtests import rule_set_backtests_run_pending

    rule_set_backtests_run_pending()


def rule_set_backtest_wake(backtest_id) -> None:
    """Ask a worker to run the backtest now; the periodic sweep covers a lost ask."""
    try:
        task_send(rule_set_backtest_run_task, args=(str(backtest_id),))
    except Exception as exc:  # noqa: BLE001 - any broker failure; the sweep covers it
        log.warning("rule_sets.backtest_wakeup_failed", error=type(exc).__name__)
