-- F4/F5 query results, C11 expiry and retention, C7 discrepancies, F6 linkage file.
-- (No columns are added to query_batches/query_requests: other code inserts into them by position.
--  A purged batch gets status 'purged'; the deletion itself is in result_deletions.)

-- F4/F5: every answer package imported, by package ID and manifest digest: the same package twice changes nothing.
CREATE TABLE result_imports (
    import_id     VARCHAR PRIMARY KEY,
    kind          VARCHAR NOT NULL,             -- info, juki
    package_id    VARCHAR NOT NULL UNIQUE,
    digest        VARCHAR NOT NULL,             -- manifest digest of the members
    ledger_entry  VARCHAR NOT NULL,             -- media_ledger entry of the first reading
    rows          BIGINT NOT NULL,
    counts        VARCHAR NOT NULL,             -- JSON counts by outcome (no personal data)
    imported_at   TIMESTAMPTZ NOT NULL,
    imported_by   VARCHAR NOT NULL
);

-- Answer lines that were not stored (orphan, wrong person, conflicting duplicate, request no longer open):
-- line and reason only, for follow-up with the sender.
CREATE TABLE result_problems (
    import_id   VARCHAR NOT NULL,
    member      VARCHAR NOT NULL,               -- file name inside the package
    line        BIGINT NOT NULL,
    reason      VARCHAR NOT NULL,               -- results.PROBLEMS
    request_id  VARCHAR,
    PRIMARY KEY (import_id, member, line)
);

-- F4 (情報照会結果): one row per answered information query.  Personal data: encrypted DB only (C12).
CREATE TABLE info_results (
    request_id         VARCHAR PRIMARY KEY,     -- query_requests.request_id (C10)
    batch_id           VARCHAR NOT NULL,
    person_id          VARCHAR NOT NULL,
    information        VARCHAR NOT NULL,
    status             VARCHAR NOT NULL,        -- query_files.ANSWER_STATUS code
    answered_at        TIMESTAMP,               -- as reported by the linkage server
    tax_year           INTEGER,                 -- 課税年度
    taxable_income     BIGINT,                  -- 所得金額 (yen)
    tax_status         VARCHAR,                 -- 1 課税, 2 非課税
    assistance         BOOLEAN,                 -- 生活保護受給
    certificate_type   VARCHAR,                 -- query_files.CERTIFICATE_TYPES
    certificate_grade  VARCHAR,
    household_size     INTEGER,                 -- 世帯人員
    resident_since     DATE,                    -- 住定日
    import_id          VARCHAR NOT NULL,
    imported_at        TIMESTAMPTZ NOT NULL
);

-- F5 (住基ネット照会結果): the current four basic items and the deceased flag.
CREATE TABLE juki_results (
    request_id   VARCHAR PRIMARY KEY,
    batch_id     VARCHAR NOT NULL,
    person_id    VARCHAR NOT NULL,
    result_code  VARCHAR NOT NULL,              -- 00 found, 10 not found, 90 error
    name         VARCHAR,
    kana         VARCHAR,
    sex          VARCHAR,
    birth_date   DATE,
    address      VARCHAR,
    deceased     BOOLEAN,
    answered_at  VARCHAR,
    import_id    VARCHAR NOT NULL,
    imported_at  TIMESTAMPTZ NOT NULL
);

-- C8/C11: every deletion of results: what (counts, batches), when, by whom, how.
CREATE TABLE result_deletions (
    deletion_id     VARCHAR PRIMARY KEY,
    deleted_at      TIMESTAMPTZ NOT NULL,
    deleted_by      VARCHAR NOT NULL,
    method          VARCHAR NOT NULL,           -- e.g. 'sql_delete'
    reason          VARCHAR NOT NULL,           -- e.g. 'retention_expired'
    retention_days  INTEGER NOT NULL,
    batch_ids       VARCHAR NOT NULL,           -- JSON list
    counts          VARCHAR NOT NULL,           -- JSON counts by table
    rebuild_needed  BOOLEAN NOT NULL,           -- DESIGN §3: DELETE does not erase bytes
    rebuilt_at      TIMESTAMPTZ
);

-- U4: income declared in the application (申告所得), per procedure x person, for 突合.
CREATE TABLE declared_income_imports (
    import_id    VARCHAR PRIMARY KEY,
    digest       VARCHAR NOT NULL UNIQUE,
    file_name    VARCHAR NOT NULL,
    rows         BIGINT NOT NULL,
    imported_at  TIMESTAMPTZ NOT NULL,
    imported_by  VARCHAR NOT NULL
);
CREATE TABLE declared_incomes (
    procedure_id     VARCHAR NOT NULL,
    person_id        VARCHAR NOT NULL,
    declared_income  BIGINT NOT NULL,
    import_id        VARCHAR NOT NULL,
    imported_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (procedure_id, person_id)
);

-- C7: results that differ from what is held.  open -> person_notified -> resolved.
CREATE TABLE discrepancies (
    discrepancy_id  VARCHAR PRIMARY KEY,
    request_id      VARCHAR NOT NULL,
    batch_id        VARCHAR NOT NULL,
    person_id       VARCHAR NOT NULL,
    source          VARCHAR NOT NULL,           -- juki, info
    kind            VARCHAR NOT NULL,           -- discrepancies.KINDS
    fields          VARCHAR NOT NULL,           -- JSON list of field names that differ
    held            VARCHAR NOT NULL,           -- JSON {field: value held}      (personal data)
    reported        VARCHAR NOT NULL,           -- JSON {field: value reported}  (personal data)
    status          VARCHAR NOT NULL,           -- open, person_notified, resolved
    detected_at     TIMESTAMPTZ NOT NULL,
    notified_at     TIMESTAMPTZ,
    notified_by     VARCHAR,
    notice_export   VARCHAR,                    -- notice_exports.export_id
    resolved_at     TIMESTAMPTZ,
    resolved_by     VARCHAR,
    note            VARCHAR,
    UNIQUE (request_id, kind)
);

-- C7: notice lists (通知対象者リスト) sent to the housing system, and who was on them.
CREATE TABLE notice_exports (
    export_id     VARCHAR PRIMARY KEY,
    approval_id   VARCHAR NOT NULL,
    ledger_entry  VARCHAR NOT NULL,
    package_id    VARCHAR NOT NULL,
    record_count  BIGINT NOT NULL,
    exported_at   TIMESTAMPTZ NOT NULL,
    exported_by   VARCHAR NOT NULL
);

-- F6: linkage files (都住システム連携用ファイル) and exactly which results went out.
CREATE TABLE linkage_exports (
    export_id       VARCHAR PRIMARY KEY,
    procedure_code  VARCHAR NOT NULL,
    fiscal_year     INTEGER NOT NULL,
    approval_id     VARCHAR NOT NULL,
    ledger_entry    VARCHAR NOT NULL,
    package_id      VARCHAR NOT NULL,
    record_count    BIGINT NOT NULL,
    persons         BIGINT NOT NULL,
    exported_at     TIMESTAMPTZ NOT NULL,
    exported_by     VARCHAR NOT NULL
);
CREATE TABLE linkage_export_members (
    export_id   VARCHAR NOT NULL,
    request_id  VARCHAR NOT NULL,
    PRIMARY KEY (export_id, request_id)
);
