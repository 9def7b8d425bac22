-- Papermill pipeline runs: who asked for which cycle with which (non-personal) parameters.
CREATE TABLE pipeline_runs (
    run_id       VARCHAR PRIMARY KEY,
    pipeline     VARCHAR NOT NULL,
    params       VARCHAR NOT NULL,          -- JSON: IDs, years and paths only
    user_id      VARCHAR NOT NULL,
    ticket_hash  VARCHAR NOT NULL,          -- SHA-256 of the one-time run ticket
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    started_at   TIMESTAMPTZ,
    finished_at  TIMESTAMPTZ,
    status       VARCHAR NOT NULL,          -- issued, running, succeeded, failed
    notebook     VARCHAR                    -- the executed notebook, relative to the workspace
);
