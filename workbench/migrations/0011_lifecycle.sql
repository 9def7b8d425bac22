-- The end of the data's life (issue 12): bulk deletion (F7, C8), purge, retention rules (C11),
-- disclosure / correction / suspension (F9), inquiry log (F10), yearly ID review (C6).
-- New tables only: existing tables are written with positional INSERTs, so none gains a column.

-- A deletion list (削除対象者リスト): from the housing system (file) or a staff selection.
CREATE TABLE deletion_lists (
    list_id      VARCHAR PRIMARY KEY,
    source       VARCHAR NOT NULL,              -- file, staff
    digest       VARCHAR,                       -- sha256 of the file bytes (file lists)
    file_name    VARCHAR,
    rows         BIGINT NOT NULL,
    reasons      VARCHAR NOT NULL,              -- JSON counts by reason (no personal data)
    status       VARCHAR NOT NULL,              -- open, applied, cancelled
    created_at   TIMESTAMPTZ NOT NULL,
    created_by   VARCHAR NOT NULL
);

-- Who is on an open list.  Emptied when the list is applied (only counts stay).
CREATE TABLE deletion_list_members (
    list_id    VARCHAR NOT NULL,
    person_id  VARCHAR NOT NULL,
    reason     VARCHAR NOT NULL,                -- deletion.REASONS
    line       BIGINT,                          -- line in the file, if any
    PRIMARY KEY (list_id, person_id)
);

-- The deletion record (削除記録, C8): no number, no name, no internal person number.
CREATE TABLE person_deletions (
    deletion_id    VARCHAR PRIMARY KEY,
    list_id        VARCHAR,
    requested_by   VARCHAR NOT NULL,
    approved_by    VARCHAR,
    approval_id    VARCHAR,
    applied_at     TIMESTAMPTZ NOT NULL,
    applied_by     VARCHAR NOT NULL,
    method         VARCHAR NOT NULL,            -- e.g. 'batch_delete' or 'reapplied_after_restore'
    persons        BIGINT NOT NULL,
    reasons        VARCHAR NOT NULL,            -- JSON counts by reason
    counts         VARCHAR NOT NULL,            -- JSON counts by table
    purge_mode     VARCHAR NOT NULL,            -- now, scheduled
    erased_at      TIMESTAMPTZ,                 -- when the file was rebuilt under a new key (bytes erased)
    copies_marked  BIGINT NOT NULL              -- media ledger entries marked for destruction
);

-- Transfer copies that held deleted people: destroy (outgoing still here) or ask the recipient to.
CREATE TABLE media_destructions (
    entry_id      VARCHAR NOT NULL,             -- media_ledger.entry_id
    deletion_id   VARCHAR NOT NULL,
    reason        VARCHAR NOT NULL,             -- person_deletion, retention
    requested_at  TIMESTAMPTZ NOT NULL,
    destroyed_at  TIMESTAMPTZ,                  -- the local copy was deleted
    confirmed_at  TIMESTAMPTZ,                  -- the recipient confirmed destruction
    confirmed_by  VARCHAR,
    PRIMARY KEY (entry_id, deletion_id)
);

-- Suspension of use (利用停止, F9): a person with an open row is left out of every batch and export.
CREATE TABLE use_suspensions (
    suspension_id  VARCHAR PRIMARY KEY,
    person_id      VARCHAR NOT NULL,
    reason         VARCHAR NOT NULL,
    suspended_at   TIMESTAMPTZ NOT NULL,
    suspended_by   VARCHAR NOT NULL,
    lifted_at      TIMESTAMPTZ,
    lifted_by      VARCHAR,
    lift_reason    VARCHAR
);

-- Corrections (訂正, F9): old and new value kept here (encrypted store), digests in the audit log.
CREATE TABLE corrections (
    correction_id  VARCHAR PRIMARY KEY,
    person_id      VARCHAR NOT NULL,
    field          VARCHAR NOT NULL,
    old_value      VARCHAR,
    new_value      VARCHAR NOT NULL,
    reason         VARCHAR NOT NULL,
    corrected_at   TIMESTAMPTZ NOT NULL,
    corrected_by   VARCHAR NOT NULL
);

-- Inquiry log (問合せ記録, F10 / V-2 ②).
CREATE TABLE inquiries (
    inquiry_id   VARCHAR PRIMARY KEY,
    received_at  TIMESTAMPTZ NOT NULL,
    channel      VARCHAR NOT NULL,              -- inquiries.CHANNELS
    person_id    VARCHAR,                       -- about whom, if anyone (cleared when that person is deleted)
    category     VARCHAR NOT NULL,              -- inquiries.CATEGORIES
    question     VARCHAR NOT NULL,
    handled_by   VARCHAR NOT NULL,
    response     VARCHAR,
    status       VARCHAR NOT NULL,              -- open, closed
    closed_at    TIMESTAMPTZ,
    recorded_by  VARCHAR NOT NULL
);

-- Retention rules as data (保存期間, C11): one row per kind of record.
CREATE TABLE retention_rules (
    kind            VARCHAR PRIMARY KEY,
    keep_days       INTEGER NOT NULL,
    starts          VARCHAR NOT NULL,           -- what starts the clock
    label_ja        VARCHAR NOT NULL,
    label_en        VARCHAR NOT NULL,
    updated_at      TIMESTAMPTZ,
    updated_by      VARCHAR
);
INSERT INTO retention_rules VALUES
    ('query_results',       90,   'batch closed',              '照会結果',                 'query results', NULL, NULL),
    ('transfer_copies',     30,   'package written',           '送付用コピー（未受け渡し）', 'transfer copies not handed over', NULL, NULL),
    ('return_lists',        90,   'return list written',       '差戻リスト',               'return lists', NULL, NULL),
    ('deleted_traces',      1825, 'deletion applied',          '削除済みの者の記録（削除記録・削除ジャーナル）', 'deleted persons'' traces (deletion records)', NULL, NULL),
    ('audit_records',       2555, 'record written',            '操作ログ',                 'audit records', NULL, NULL),
    ('executed_notebooks',  365,  'pipeline run finished',     '実行済みノートブック',     'executed notebooks', NULL, NULL),
    ('closed_inquiries',    1825, 'inquiry closed',            '対応済みの問合せ記録',     'closed inquiries', NULL, NULL);

-- The yearly ID review (ID・権限の棚卸し, C6), signed off by a second person.
CREATE TABLE id_reviews (
    review_id       VARCHAR PRIMARY KEY,
    started_at      TIMESTAMPTZ NOT NULL,
    started_by      VARCHAR NOT NULL,
    findings        VARCHAR NOT NULL,           -- JSON: active, dormant, overdue, disabled (user IDs, no personal data)
    approval_id     VARCHAR NOT NULL,
    status          VARCHAR NOT NULL,           -- pending, signed_off
    signed_off_by   VARCHAR,
    signed_off_at   TIMESTAMPTZ
);

-- Who is suspended now: every batch, export and statistic leaves them out (persons.active_filter).
CREATE VIEW suspended_persons AS
    SELECT DISTINCT person_id FROM use_suspensions WHERE lifted_at IS NULL;
