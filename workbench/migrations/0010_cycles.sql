-- Cycles (定例処理) that resume: each named stage's state lives here, not only in the notebook,
-- and batch accounts for unattended runs with their revocable, expiring key credentials.
CREATE TABLE cycle_runs (
    cycle_run_id  VARCHAR PRIMARY KEY,
    cycle         VARCHAR NOT NULL,
    params        VARCHAR NOT NULL,          -- JSON: IDs, years and paths only
    params_digest VARCHAR NOT NULL,
    user_id       VARCHAR NOT NULL,          -- who started it (a person or a batch account)
    status        VARCHAR NOT NULL,          -- running, waiting, failed, succeeded
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ,
    holder        VARCHAR,                   -- the pipeline run (execution) working on it now
    holder_user   VARCHAR,                   -- and who runs it
    holder_host   VARCHAR,
    holder_pid    INTEGER,
    reason        VARCHAR,                   -- one line: why it failed or what it waits for
    notebook      VARCHAR                    -- the latest executed notebook, relative to the workspace
);

CREATE TABLE cycle_stages (
    cycle_run_id  VARCHAR NOT NULL,
    cycle         VARCHAR NOT NULL,
    params_digest VARCHAR NOT NULL,
    stage         VARCHAR NOT NULL,
    seq           INTEGER NOT NULL,
    status        VARCHAR NOT NULL,          -- pending, running, waiting, failed, done
    started_at    TIMESTAMPTZ,
    finished_at   TIMESTAMPTZ,
    detail        VARCHAR NOT NULL,          -- JSON: counts, IDs and checkpoints, never personal data
    waiting_for   VARCHAR,                   -- JSON: what an outside party must do (approval, answers)
    attempts      INTEGER NOT NULL DEFAULT 0,
    seconds       DOUBLE NOT NULL DEFAULT 0, -- time spent in the stage over all attempts
    PRIMARY KEY (cycle_run_id, stage)
);

-- Which pipeline run (execution) worked on which cycle run.
CREATE TABLE cycle_executions (
    run_id        VARCHAR PRIMARY KEY,
    cycle_run_id  VARCHAR NOT NULL
);

-- A batch account: a user ID with no person behind it, for one cycle only.
CREATE TABLE batch_accounts (
    user_id       VARCHAR PRIMARY KEY,
    cycle         VARCHAR NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    created_by    VARCHAR NOT NULL,
    approval_id   VARCHAR
);

CREATE TABLE batch_credentials (
    key_id        VARCHAR PRIMARY KEY,
    user_id       VARCHAR NOT NULL,
    secret_hash   VARCHAR NOT NULL,          -- SHA-256 of the key file's secret
    issued_at     TIMESTAMPTZ NOT NULL,
    issued_by     VARCHAR NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    revoked_at    TIMESTAMPTZ,
    revoked_by    VARCHAR,
    last_used_at  TIMESTAMPTZ
);
