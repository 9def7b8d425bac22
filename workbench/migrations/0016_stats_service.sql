-- F8 (issue 21): the statistics service. Analysts get tables, never rows; everything here stays in the
-- encrypted store. Publications no longer write files: their de-identified source is stats_source.
ALTER TABLE stats_publications ADD COLUMN manifest VARCHAR;   -- JSON: rules, k report, variables, categories
ALTER TABLE stats_publications ADD COLUMN secret BLOB;        -- the publication's key-offset secret (cell-key method)

-- Each person's record key, drawn once (1..255) and never changed; deleted with the person.
CREATE TABLE stats_record_keys (
    person_id   VARCHAR PRIMARY KEY,
    record_key  INTEGER NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

-- The de-identified source of each publication: category codes (indices into the manifest's lists),
-- the record key, income rounded to 100,000 yen. person_id only to leave out people who later leave.
CREATE TABLE stats_source (
    publication_id     VARCHAR NOT NULL,
    person_id          VARCHAR NOT NULL,
    record_key         INTEGER NOT NULL,
    ward               SMALLINT NOT NULL,
    age_band           SMALLINT NOT NULL,
    sex                SMALLINT NOT NULL,
    household_size     SMALLINT NOT NULL,
    income_band        SMALLINT NOT NULL,
    number_registered  SMALLINT NOT NULL,
    income             BIGINT
);

-- A publication's population versions: a new one each time someone in it has left (or come back).
CREATE TABLE stats_versions (
    publication_id  VARCHAR NOT NULL,
    version         INTEGER NOT NULL,
    members_digest  VARCHAR NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (publication_id, version),
    UNIQUE (publication_id, members_digest)
);

-- The release ledger: every table, chart, export and DP table, with the session's user. No cell value.
CREATE TABLE stats_releases (
    release_id      VARCHAR PRIMARY KEY,
    publication_id  VARCHAR NOT NULL,
    version         INTEGER NOT NULL,
    kind            VARCHAR NOT NULL,               -- stats_table, stats_chart, stats_export, stats_dp
    released_at     TIMESTAMPTZ NOT NULL,
    released_by     VARCHAR NOT NULL,
    request         VARCHAR NOT NULL,               -- JSON: dimensions, filters, measure, min count, ε
    cells           INTEGER NOT NULL,
    suppressed      INTEGER NOT NULL,
    epsilon         DOUBLE,
    shown_digest    VARCHAR NOT NULL                -- SHA-256 of the cells as shown
);

-- ε budgets per analyst per fiscal year; spent in the same transaction as the release.
CREATE TABLE stats_budgets (
    user_id  VARCHAR NOT NULL,
    period   VARCHAR NOT NULL,
    budget   DOUBLE NOT NULL,
    spent    DOUBLE NOT NULL,
    PRIMARY KEY (user_id, period)
);

-- Budgets given back, each with its second person's approval.
CREATE TABLE stats_budget_restores (
    approval_id  VARCHAR PRIMARY KEY,
    user_id      VARCHAR NOT NULL,
    period       VARCHAR NOT NULL,
    amount       DOUBLE NOT NULL,
    reason       VARCHAR NOT NULL,
    restored_by  VARCHAR NOT NULL,
    restored_at  TIMESTAMPTZ NOT NULL
);
