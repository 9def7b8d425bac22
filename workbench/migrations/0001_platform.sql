-- Platform tables: identities, approvals, audit log, media ledger.
-- Times are TIMESTAMPTZ except in the audit log, whose fields are hashed exactly as stored.

CREATE TABLE users (
    user_id          VARCHAR PRIMARY KEY,
    display_name     VARCHAR NOT NULL,
    password_hash    VARCHAR NOT NULL,
    totp_secret      BLOB NOT NULL,          -- AES-GCM under the "totp" key
    totp_key_version SMALLINT NOT NULL,
    last_totp_step   BIGINT,
    roles            VARCHAR[] NOT NULL,
    disabled         BOOLEAN NOT NULL DEFAULT FALSE,
    failed_logins    INTEGER NOT NULL DEFAULT 0,
    locked_until     TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    created_by       VARCHAR NOT NULL,
    last_login_at    TIMESTAMPTZ,
    reviewed_at      TIMESTAMPTZ,
    reviewed_by      VARCHAR
);

CREATE TABLE approvals (
    approval_id   VARCHAR PRIMARY KEY,
    kind          VARCHAR NOT NULL,
    params_digest VARCHAR NOT NULL,
    summary       VARCHAR NOT NULL,          -- JSON: counts and labels only
    requested_by  VARCHAR NOT NULL,
    requested_at  TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    status        VARCHAR NOT NULL,          -- pending, approved, rejected, used
    decided_by    VARCHAR,
    decided_at    TIMESTAMPTZ,
    used_at       TIMESTAMPTZ
);

CREATE TABLE audit_log (
    seq        BIGINT PRIMARY KEY,
    logged_at  VARCHAR NOT NULL,             -- UTC ISO 8601, hashed as stored
    user_ref   VARCHAR NOT NULL,             -- keyed HMAC of the user ID
    operation  VARCHAR NOT NULL,
    target_ref VARCHAR,                      -- keyed HMAC of the target identifier
    params     VARCHAR NOT NULL,             -- JSON, identifiers already pseudonymised
    outcome    VARCHAR NOT NULL,             -- ok, denied, refused, failed
    prev_hash  VARCHAR NOT NULL,
    hash       VARCHAR NOT NULL
);

CREATE TABLE media_ledger (
    entry_id     VARCHAR PRIMARY KEY,
    recorded_at  TIMESTAMPTZ NOT NULL,
    direction    VARCHAR NOT NULL,           -- out, in
    kind         VARCHAR NOT NULL,
    package_id   VARCHAR NOT NULL,
    file_name    VARCHAR NOT NULL,
    recipient    VARCHAR NOT NULL,
    record_count BIGINT NOT NULL,
    digest       VARCHAR NOT NULL,
    user_id      VARCHAR NOT NULL,
    approval_id  VARCHAR,
    deleted_at   TIMESTAMPTZ
);

-- The target list (対象者リスト) from the housing business system, and the numbers held.
CREATE TABLE households (
    household_id VARCHAR PRIMARY KEY,
    ward_code    VARCHAR NOT NULL,
    address      VARCHAR NOT NULL,
    housing_type VARCHAR NOT NULL,
    status       VARCHAR NOT NULL,           -- resident, applicant
    phone        VARCHAR,
    listed       BOOLEAN NOT NULL DEFAULT TRUE,
    updated_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE persons (
    person_id    VARCHAR PRIMARY KEY,        -- internal person number (宛名番号)
    household_id VARCHAR NOT NULL,
    relation     VARCHAR,
    name         VARCHAR NOT NULL,
    kana         VARCHAR NOT NULL,
    sex          VARCHAR NOT NULL,
    birth_date   DATE NOT NULL,
    address      VARCHAR NOT NULL,
    status       VARCHAR NOT NULL,
    listed       BOOLEAN NOT NULL DEFAULT TRUE,
    deceased     BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE person_numbers (
    person_id     VARCHAR PRIMARY KEY,
    number_ct     BLOB NOT NULL,             -- AES-GCM under the "numbers" key, AAD binds the row
    number_index  BLOB NOT NULL UNIQUE,      -- HMAC blind index under the "blind_index" key
    key_version   SMALLINT NOT NULL,
    source        VARCHAR NOT NULL,
    registered_at TIMESTAMPTZ NOT NULL,
    registered_by VARCHAR NOT NULL
);
