-- F0, F0b, F1b: target list, collection list, integrated numbers.

-- F0 uses persons/households as they are: a person no longer in the target list gets
-- listed = FALSE and updated_at = the import time; numbers are kept until deletion (C8).
-- (No columns are added to persons/households: other code inserts into them by position.)

-- F0: every target list imported, by the SHA-256 of its bytes: the same file twice changes nothing.
CREATE TABLE target_imports (
    import_id    VARCHAR PRIMARY KEY,
    digest       VARCHAR NOT NULL UNIQUE,       -- sha256 hex of the raw bytes
    file_name    VARCHAR NOT NULL,
    encoding     VARCHAR NOT NULL,
    rows         BIGINT NOT NULL,
    counts       VARCHAR NOT NULL,              -- JSON: new, changed, unlisted ... (no personal data)
    imported_at  TIMESTAMPTZ NOT NULL,
    imported_by  VARCHAR NOT NULL
);

-- F0b: every collection list sent, and who was on it (so returns can be traced to a list).
CREATE TABLE collection_exports (
    export_id     VARCHAR PRIMARY KEY,
    approval_id   VARCHAR NOT NULL,
    ledger_entry  VARCHAR NOT NULL,             -- media_ledger.entry_id
    package_id    VARCHAR NOT NULL,
    wards         VARCHAR NOT NULL,             -- JSON list or null
    statuses      VARCHAR NOT NULL,             -- JSON list or null
    record_count  BIGINT NOT NULL,
    exported_at   TIMESTAMPTZ NOT NULL,
    exported_by   VARCHAR NOT NULL
);

CREATE TABLE collection_export_members (
    export_id  VARCHAR NOT NULL,
    person_id  VARCHAR NOT NULL,
    PRIMARY KEY (export_id, person_id)
);

-- F1b: integrated-number (団体内統合利用番号) requests; each row has its own request ID
-- that the linkage server returns with its answer (C10).
CREATE TABLE integrated_batches (
    batch_id      VARCHAR PRIMARY KEY,
    ledger_entry  VARCHAR NOT NULL,
    package_id    VARCHAR NOT NULL,
    request_count BIGINT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    created_by    VARCHAR NOT NULL
);

CREATE TABLE integrated_requests (
    request_id   VARCHAR PRIMARY KEY,
    batch_id     VARCHAR NOT NULL,
    person_id    VARCHAR NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL,
    status       VARCHAR NOT NULL,              -- open, answered, not_found, error, superseded
    result_code  VARCHAR,
    answered_at  TIMESTAMPTZ,
    import_id    VARCHAR
);

-- The integrated number itself: personal data, held only in the encrypted database (C12).
CREATE TABLE integrated_numbers (
    person_id          VARCHAR PRIMARY KEY,
    integrated_number  VARCHAR NOT NULL UNIQUE,
    request_id         VARCHAR NOT NULL,
    obtained_at        TIMESTAMPTZ NOT NULL
);

-- F1b: every answer file imported, by digest.
CREATE TABLE integrated_imports (
    import_id    VARCHAR PRIMARY KEY,
    digest       VARCHAR NOT NULL UNIQUE,
    package_id   VARCHAR,
    rows         BIGINT NOT NULL,
    counts       VARCHAR NOT NULL,              -- JSON counts (no personal data)
    imported_at  TIMESTAMPTZ NOT NULL,
    imported_by  VARCHAR NOT NULL
);
