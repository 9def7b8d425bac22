-- Issue 10: re-applying an older target list on purpose, and failed log-ins for unknown user IDs.

-- A target list applied again deliberately (targets import --reapply): the list's first
-- import stays in target_imports; the current list is the latest of both tables.
CREATE TABLE target_reapplications (
    import_id     VARCHAR NOT NULL,              -- target_imports.import_id of the list applied again
    reapplied_at  TIMESTAMPTZ NOT NULL,
    reapplied_by  VARCHAR NOT NULL,
    counts        VARCHAR NOT NULL               -- JSON: new, changed, relisted, unlisted ... (no personal data)
);

-- Failed log-ins for user IDs that do not exist, keyed by a keyed HMAC of the ID typed
-- (never the ID), so an unknown ID is locked out exactly like a real one (no oracle).
CREATE TABLE login_failures (
    id_ref         VARCHAR PRIMARY KEY,
    failed_logins  INTEGER NOT NULL,
    locked_until   TIMESTAMPTZ,
    last_failed_at TIMESTAMPTZ NOT NULL
);
