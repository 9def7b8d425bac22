-- Issue 22 items 1, 2 and 4: nothing escapes (backups with an end, an audit log that anchors itself,
-- numbers no longer needed are found).  New tables and rows only.

-- The 7-year pruning of the audit log (C4): the last record pruned, signed with the anchor key, so
-- the chain that remains starts from its hash and still verifies.
CREATE TABLE audit_checkpoints (
    seq          BIGINT PRIMARY KEY,             -- the last record pruned
    hash         VARCHAR NOT NULL,               -- its hash (the next record's prev_hash)
    pruned       BIGINT NOT NULL,                -- how many records this pruning removed
    pruned_at    VARCHAR NOT NULL,               -- when (UTC, ISO 8601)
    mac          VARCHAR NOT NULL,               -- anchor.checkpoint_mac
    pruned_by    VARCHAR NOT NULL
);

-- Where each backup was written, and when and how it was destroyed (C12, the media ledger's entry).
CREATE TABLE backup_places (
    entry_id       VARCHAR PRIMARY KEY,          -- media_ledger.entry_id of the backup
    path           VARCHAR NOT NULL,             -- the backup file, as written
    keyring_copy   VARCHAR,                      -- the keyring copy written with it, if any
    created_at     TIMESTAMPTZ NOT NULL,
    destroyed_at   TIMESTAMPTZ,
    destroyed_by   VARCHAR,
    method         VARCHAR                       -- deleted, missing (not found at its place)
);

-- People off the target list who still hold a number, and since when the daily check saw them so.
CREATE TABLE unlisted_since (
    person_id   VARCHAR PRIMARY KEY,
    since       TIMESTAMPTZ NOT NULL
);

INSERT INTO retention_rules VALUES
    ('backups',          90, 'backup taken',            'バックアップ',                       'backups', NULL, NULL),
    ('unlisted_numbers', 30, 'left the target list',    '対象者リストから外れた人の個人番号', 'numbers of people off the target list', NULL, NULL);
