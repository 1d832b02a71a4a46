"""PostgreSQL guards on the journal: what the services promise, the database enforces.

- An entry must balance (postings sum to zero per currency, at least two of them).
  Checked by a DEFERRED constraint trigger at commit, fired once per journal
  entry (not per posting) so bulk work stays cheap.
- Postings may only be added to an entry in the transaction that created it
  (a hidden ``created_txid`` column), so the commit-time check cannot be
  side-stepped by adding postings to an old entry later. One statement-level
  trigger per INSERT statement, whatever the number of rows.
- Entries and postings are append-only: UPDATE and DELETE are refused.
  Mistakes are corrected by reversing entries.

On SQLite (the zero-setup demo) these are skipped; the services' own checks hold.
"""

from django.db import migrations

FORWARD = """
ALTER TABLE accounts_journalentry ADD COLUMN created_txid xid8 NOT NULL DEFAULT pg_current_xact_id();

CREATE FUNCTION ledger_entry_must_balance() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n integer;
    unbalanced text;
BEGIN
    SELECT count(*) INTO n FROM accounts_posting WHERE entry_id = NEW.id;
    IF n < 2 THEN
        RAISE EXCEPTION 'journal entry % has % posting(s); an entry needs at least two', NEW.id, n
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT currency INTO unbalanced FROM accounts_posting WHERE entry_id = NEW.id
        GROUP BY currency HAVING sum(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % does not balance in %', NEW.id, unbalanced
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER ledger_entry_balanced
    AFTER INSERT ON accounts_journalentry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_must_balance();

CREATE FUNCTION ledger_posting_same_transaction() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM new_postings p JOIN accounts_journalentry e ON e.id = p.entry_id
        WHERE e.created_txid <> pg_current_xact_id()
    ) THEN
        RAISE EXCEPTION 'postings can only be added to a journal entry in the transaction that created it'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER ledger_posting_same_transaction
    AFTER INSERT ON accounts_posting
    REFERENCING NEW TABLE AS new_postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_posting_same_transaction();

CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused (post a reversing entry instead)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER journalentry_append_only BEFORE UPDATE OR DELETE ON accounts_journalentry
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER posting_append_only BEFORE UPDATE OR DELETE ON accounts_posting
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS posting_append_only ON accounts_posting;
DROP TRIGGER IF EXISTS journalentry_append_only ON accounts_journalentry;
DROP FUNCTION IF EXISTS ledger_append_only();
DROP TRIGGER IF EXISTS ledger_posting_same_transaction ON accounts_posting;
DROP FUNCTION IF EXISTS ledger_posting_same_transaction();
DROP TRIGGER IF EXISTS ledger_entry_balanced ON accounts_journalentry;
DROP FUNCTION IF EXISTS ledger_entry_must_balance();
ALTER TABLE accounts_journalentry DROP COLUMN IF EXISTS created_txid;
"""


def _on_postgres(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(_on_postgres(FORWARD), _on_postgres(BACKWARD))]
