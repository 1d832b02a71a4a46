"""The vouchers admin: the operators' campaign desk and the vouchers' records. (R-VC-01, R-VC-07, R-VC-09, R-LC-01 …
R-LC-06, R-OP-01)

Every write goes through the vouchers services, with who and why. Django's admin
autodiscovery imports this package; importing the modules below registers their
admins:

- ``campaigns``: the campaign desk — create, edit, publish, pause, end, fund
  (``campaign_forms`` holds its forms and moves, ``campaign_desk`` what the page
  shows: liability, the last days, flagged claimants, history);
- ``loss_coverage``: loss-coverage vouchers and compensations (records), and the
  campaign's "Grant loss coverage" page;
- ``payouts``: payouts (records) held, released or rejected with a reason;
- ``abuse``: voucher-abuse bans and "Disable for voucher abuse";
- ``records``: claimed vouchers, campaign changes and fundings, read-only;
- ``common``: permissions, amounts as operators read them, a service's refusal on a form.
"""

from vouchers.admin import abuse, campaigns, loss_coverage, payouts, records

__all__ = ["abuse", "campaigns", "loss_coverage", "payouts", "records"]
