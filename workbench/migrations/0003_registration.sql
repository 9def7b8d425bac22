-- F1: registration of Individual Numbers, return lists, review queue (C1, C2, C3, C7).

-- Every file imported, by the SHA-256 of its bytes: the same file twice changes nothing.
CREATE TABLE registration_imports (
    import_id        VARCHAR PRIMARY KEY,
    digest           VARCHAR NOT NULL UNIQUE,    -- sha256 hex of the raw bytes
    source           VARCHAR NOT NULL,           -- contractor, portal
    file_name        VARCHAR NOT NULL,
    encoding         VARCHAR NOT NULL,
    rows             BIGINT NOT NULL,
    outcomes         VARCHAR NOT NULL,           -- JSON: counts by outcome and by reason (no personal data)
    return_entry_id  VARCHAR,                    -- media_ledger entry of the return list, if any
    imported_at      TIMESTAMPTZ NOT NULL,
    imported_by      VARCHAR NOT NULL
);

-- Rows of a file that were not registered (差戻リスト), kept so staff can follow them up.
CREATE TABLE registration_returns (
    import_id     VARCHAR NOT NULL,
    line          BIGINT NOT NULL,               -- 1-based physical line in the file
    reason        VARCHAR NOT NULL,              -- code of registration.REASONS
    person_id     VARCHAR,                       -- contractor rows, or the portal row's matched person
    submission_id VARCHAR,                       -- portal rows
    PRIMARY KEY (import_id, line)
);

-- C7: a different number for a person who already has one is never overwritten;
-- it waits here until a registrar accepts (replaces) or rejects it.
CREATE TABLE registration_reviews (
    review_id     VARCHAR PRIMARY KEY,
    import_id     VARCHAR NOT NULL,
    line          BIGINT NOT NULL,
    person_id     VARCHAR NOT NULL,
    number_ct     BLOB NOT NULL,                 -- AES-GCM, row key = review_id
    number_index  BLOB NOT NULL,                 -- HMAC blind index of the new number
    key_version   SMALLINT NOT NULL,
    source        VARCHAR NOT NULL,
    status        VARCHAR NOT NULL,              -- pending, accepted, rejected
    created_at    TIMESTAMPTZ NOT NULL,
    created_by    VARCHAR NOT NULL,
    decided_at    TIMESTAMPTZ,
    decided_by    VARCHAR
);
