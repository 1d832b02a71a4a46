"""The vouchers benchmark's own checks, at a small N inside the test database (times are not asserted).

R-VC-04 … R-VC-09: a tick's liquidations trigger exactly the liquidated users' liquidation
vouchers (first-loss ones for users holding only those) for min(loss, face value), one
decision per close, in a bounded number of queries per delivery batch; the daily run issues
every due payout once and a second run changes nothing; the ledger and the campaign budget
identity stay clean.
"""

import pytest

from bench.vouchers import loss_coverage_available, run_benchmark

pytestmark = pytest.mark.django_db


def test_the_vouchers_benchmark_triggers_exactly_the_liquidated_users_vouchers_and_issues_every_due_payout():
    results = run_benchmark(400, delivery_batch=2)  # 4 liquidations: one of each voucher group, two batches

    loss_checks = {
        "loss_identity_after_build": True,
        "loss_compensations_built_are_due": True,
        "loss_credit_run_paid_every_due": True,
        "loss_spot_accounts_credited": True,
        "loss_identity_after_credit": True,
        "loss_second_run_changes_nothing": True,
    }
    assert results["checks"] == {
        "liquidation_prices_match_services": True,
        "bulk_vouchers_match_service_claims": True,
        "budget_identity_after_build": True,
        "warmup_tick_touched_nothing": True,
        "liquidated_exactly_the_expected": True,
        "one_event_per_close": True,
        "consumer_delivered_every_event": True,
        "triggered_exactly_the_expected": True,
        "payouts_pay_min_of_loss_and_face": True,
        "one_decision_per_close": True,
        "other_vouchers_untouched": True,
        "consumer_queries_per_batch_bounded": True,
        "redelivery_changes_nothing": True,
        "budget_identity_after_triggers": True,
        "payouts_built_are_due": True,
        "payout_run_issued_exactly_the_due": True,
        "issued_payouts_claimable_for_the_campaign_days": True,
        "second_payout_run_changes_nothing": True,
        **(loss_checks if loss_coverage_available() else {}),
        "ledger_audit_ok": True,
        "budget_identity_at_end": True,
    }
    assert results["ok"]
    assert (results["n"], results["liquidated"]) == (400, 4)
    consumer = results["consumer"]
    assert consumer["delivered"] == consumer["triggered"] == 4
    assert len(consumer["queries_per_batch"]) == 3  # two batches of two events, then the read that finds none
    assert consumer["rows_by_table"]["vouchers_closedecision"] == 4
    assert results["payouts"]["issued"] == 400 and results["payouts"]["second_issued"] == 0
    assert results["tick"]["floor_ms"] > 0 and results["payouts"]["update_floor_ms"] > 0
    loss = results["loss"]
    if loss_coverage_available():  # 4 of the 400 users are disabled for voucher abuse: theirs are withheld
        assert (loss["credited"], loss["withheld"]) == (396, 4)
        assert loss["rows_by_table"]["vouchers_compensation"] == 400 and loss["floor_ms"] > 0
    else:
        assert loss["measured"] is False and "not measured" in loss["why"]


def test_the_vouchers_benchmark_wants_a_multiple_of_one_hundred_users_covering_every_group():
    with pytest.raises(ValueError, match="multiple of 100"):
        run_benchmark(250)
    with pytest.raises(ValueError, match="at least 300"):
        run_benchmark(200)
