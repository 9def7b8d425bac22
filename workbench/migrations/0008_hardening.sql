-- Hardening (issue 10): who benefits from an approval, recipient key files issued once,
-- and the audit log's alarms and acknowledgements (fail closed).

-- The person an approval would benefit (a role grant's user), who may not approve it.
CREATE TABLE approval_beneficiaries (
    approval_id VARCHAR PRIMARY KEY,
    user_id     VARCHAR NOT NULL
);

-- Recipient key files handed over: once per recipient and key version, with its approval.
CREATE TABLE key_files (
    recipient   VARCHAR NOT NULL,
    key_version SMALLINT NOT NULL,
    key_id      VARCHAR NOT NULL,
    issued_at   TIMESTAMPTZ NOT NULL,
    issued_by   VARCHAR NOT NULL,
    approval_id VARCHAR NOT NULL,
    PRIMARY KEY (recipient, key_version)
);

-- A broken audit log found by verification, the tail check or an anchor: while one is not
-- acknowledged, every write and every reveal is refused.
CREATE TABLE audit_alarms (
    alarm_id        VARCHAR PRIMARY KEY,
    raised_at       TIMESTAMPTZ NOT NULL,
    source          VARCHAR NOT NULL,        -- verify, tail_check, anchor
    first_bad_seq   BIGINT,
    reason          VARCHAR NOT NULL,        -- a problem code (workbench.audit.PROBLEMS)
    problems        VARCHAR NOT NULL,        -- JSON [[seq, code], ...] found with it
    acknowledged_at TIMESTAMPTZ,
    acknowledged_by VARCHAR,
    epoch           INTEGER                  -- the epoch its acknowledgement opened
);

-- Each acknowledgement opens an epoch: the problems known then are accepted, heads written
-- before it are checked only against the records that existed then.
CREATE TABLE audit_epochs (
    epoch           INTEGER PRIMARY KEY,
    started_at      TIMESTAMPTZ NOT NULL,
    baseline_seq    BIGINT NOT NULL,         -- the last record when it was acknowledged
    acknowledged_by VARCHAR NOT NULL,
    note            VARCHAR NOT NULL,        -- what the auditor found (inside the encrypted store)
    problems        VARCHAR NOT NULL         -- JSON [[seq, code], ...] accepted by it
);
