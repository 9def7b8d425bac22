-- ⑧⑨ procedures filed, F2/F3 query batches and requests (C10).  F4/F5 results,
-- C7 discrepancies and F6 linkage build on these tables.

-- ⑧⑨: every procedure file imported, by the SHA-256 of its bytes: the same file twice changes nothing.
CREATE TABLE procedure_imports (
    import_id    VARCHAR PRIMARY KEY,
    digest       VARCHAR NOT NULL UNIQUE,
    file_name    VARCHAR NOT NULL,
    encoding     VARCHAR NOT NULL,
    rows         BIGINT NOT NULL,
    counts       VARCHAR NOT NULL,              -- JSON counts (no personal data)
    imported_at  TIMESTAMPTZ NOT NULL,
    imported_by  VARCHAR NOT NULL
);

-- A procedure (届出・申請) filed in the housing system (U3: only these can be queried).
CREATE TABLE housing_procedures (
    procedure_id    VARCHAR PRIMARY KEY,        -- the housing system's receipt number
    procedure_code  VARCHAR NOT NULL,           -- P1 .. P6 (query_rules.json)
    fiscal_year     INTEGER NOT NULL,
    filed_on        DATE NOT NULL,
    applicant_id    VARCHAR NOT NULL,           -- persons.person_id
    import_id       VARCHAR NOT NULL,
    imported_at     TIMESTAMPTZ NOT NULL
);

-- Who a procedure concerns (the applicant and the household members named), each
-- with his or her own consent to information queries (U2).
CREATE TABLE procedure_members (
    procedure_id  VARCHAR NOT NULL,
    person_id     VARCHAR NOT NULL,
    consent       BOOLEAN NOT NULL,
    PRIMARY KEY (procedure_id, person_id)
);

-- F2 (kind 'info') and F3 (kind 'juki'): one row per package sent.
CREATE TABLE query_batches (
    batch_id          VARCHAR PRIMARY KEY,
    kind              VARCHAR NOT NULL,         -- info, juki
    procedure_code    VARCHAR NOT NULL,
    fiscal_year       INTEGER NOT NULL,
    information       VARCHAR NOT NULL,         -- JSON list of information keys (juki: ["juki"])
    approval_id       VARCHAR NOT NULL,
    selection_digest  VARCHAR NOT NULL,
    request_count     BIGINT NOT NULL,
    file_count        INTEGER NOT NULL,
    records_per_file  INTEGER NOT NULL,
    excluded          VARCHAR NOT NULL,         -- JSON counts by exclusion reason
    ledger_entry      VARCHAR NOT NULL,         -- media_ledger.entry_id
    package_id        VARCHAR NOT NULL,
    status            VARCHAR NOT NULL,         -- sent, closed (closed_at starts the C11 retention clock)
    created_at        TIMESTAMPTZ NOT NULL,
    created_by        VARCHAR NOT NULL,
    closed_at         TIMESTAMPTZ
);

-- One query (one person x one information kind; juki: one person).  request_id is
-- unique and travels in the file; the answer carries it back (C10).
-- status: created -> sent (package written) -> answered | error | expired.
CREATE TABLE query_requests (
    request_id      VARCHAR PRIMARY KEY,        -- "QB" / "JB" + date + 6 hex + "-" + 7-digit sequence (24 chars)
    batch_id        VARCHAR NOT NULL,
    kind            VARCHAR NOT NULL,           -- info, juki
    person_id       VARCHAR NOT NULL,
    procedure_id    VARCHAR NOT NULL,           -- the filing that permits it (U3)
    procedure_code  VARCHAR NOT NULL,
    fiscal_year     INTEGER NOT NULL,
    information     VARCHAR NOT NULL,           -- query_rules information key, or 'juki'
    info_code       VARCHAR,                    -- 特定個人情報名コード (info only)
    basis           VARCHAR NOT NULL,           -- filed (the person is named in the filing), household (U1)
    file_no         INTEGER NOT NULL,           -- 1-based member of the package
    record_no       INTEGER NOT NULL,           -- 1-based line in that member
    status          VARCHAR NOT NULL,           -- created, sent, answered, error, expired
    requested_at    TIMESTAMPTZ NOT NULL,
    status_at       TIMESTAMPTZ NOT NULL,
    result_code     VARCHAR,                    -- set by the result import (F4/F5)
    answered_at     TIMESTAMPTZ,
    import_id       VARCHAR
);
