-- The office's own records for its organisational promises (issue 23): staff training and
-- attendance, the yearly self-inspection and its follow-up, the number-collection contractor's
-- kits handed out and returned, and incidents (漏えい等事案) with their legal reporting deadlines.
-- Staff appear by user ID only; no resident's personal data is kept here.

-- A training session (研修) and who attended, by staff user ID.
CREATE TABLE training_sessions (
    session_id    VARCHAR PRIMARY KEY,
    held_on       DATE NOT NULL,
    title         VARCHAR NOT NULL,
    topic         VARCHAR NOT NULL,             -- records.TRAINING_TOPICS
    minutes       INTEGER NOT NULL,
    recorded_at   TIMESTAMPTZ NOT NULL,
    recorded_by   VARCHAR NOT NULL
);
CREATE TABLE training_attendance (
    session_id    VARCHAR NOT NULL,
    user_id       VARCHAR NOT NULL,
    PRIMARY KEY (session_id, user_id)
);

-- The yearly self-inspection (自己点検): one row per checklist item, with its finding and follow-up.
CREATE TABLE inspection_items (
    fiscal_year   INTEGER NOT NULL,
    item          VARCHAR NOT NULL,             -- records.CHECKLIST
    result        VARCHAR NOT NULL,             -- ok, finding
    finding       VARCHAR,
    follow_up     VARCHAR,
    due_on        DATE,
    closed_on     DATE,
    checked_at    TIMESTAMPTZ NOT NULL,
    checked_by    VARCHAR NOT NULL,
    PRIMARY KEY (fiscal_year, item)
);

-- The collection contractor's kits (番号収集キット): handed out and returned, by batch.
CREATE TABLE kit_movements (
    movement_id   VARCHAR PRIMARY KEY,
    batch         VARCHAR NOT NULL,             -- the contractor's kit batch reference
    direction     VARCHAR NOT NULL,             -- handed_out, returned, lost
    kits          BIGINT NOT NULL,
    moved_on      DATE NOT NULL,
    note          VARCHAR,
    recorded_at   TIMESTAMPTZ NOT NULL,
    recorded_by   VARCHAR NOT NULL
);

-- Incidents (漏えい等事案) and their timeline, for the reports to the PPC (個人情報保護委員会).
CREATE TABLE incidents (
    incident_id     VARCHAR PRIMARY KEY,
    kind            VARCHAR NOT NULL,           -- records.INCIDENT_KINDS
    unauthorised    BOOLEAN NOT NULL,           -- caused with an unfair purpose (不正の目的): 60 days for the final report
    persons         BIGINT NOT NULL,            -- how many people are affected (a count, never who)
    summary         VARCHAR NOT NULL,
    occurred_at     TIMESTAMPTZ,
    discovered_at   TIMESTAMPTZ NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL,
    recorded_by     VARCHAR NOT NULL,
    status          VARCHAR NOT NULL            -- open, closed
);
CREATE TABLE incident_events (
    incident_id   VARCHAR NOT NULL,
    event         VARCHAR NOT NULL,             -- records.INCIDENT_EVENTS
    happened_at   TIMESTAMPTZ NOT NULL,
    note          VARCHAR,
    recorded_at   TIMESTAMPTZ NOT NULL,
    recorded_by   VARCHAR NOT NULL,
    PRIMARY KEY (incident_id, event, happened_at)
);
