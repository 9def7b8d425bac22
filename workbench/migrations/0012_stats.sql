-- F8: de-identified statistics publications (the files themselves live under the stats_root setting).
CREATE TABLE stats_publications (
    publication_id   VARCHAR PRIMARY KEY,           -- S0001, S0002 ...
    seq              INTEGER NOT NULL UNIQUE,
    as_of            DATE NOT NULL,                 -- ages counted on this day
    k_required       INTEGER NOT NULL,
    k_achieved       INTEGER,
    records          BIGINT NOT NULL,
    records_removed  BIGINT NOT NULL,
    folder           VARCHAR NOT NULL,
    digest           VARCHAR NOT NULL,              -- sha256 of persons.parquet
    status           VARCHAR NOT NULL,              -- published, withdrawn
    published_at     TIMESTAMPTZ NOT NULL,
    published_by     VARCHAR NOT NULL,
    withdrawn_at     TIMESTAMPTZ,
    withdrawn_by     VARCHAR,
    withdraw_reason  VARCHAR
);
