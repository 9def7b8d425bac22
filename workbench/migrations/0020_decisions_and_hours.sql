-- Issue 20 (items 6 and 9): why a request was rejected, and the set hours as they were.

-- The approver's reason for a rejection (却下の理由), shown to the person who asked; a rejection
-- without one is refused.  Kept beside the request (not a column of approvals: rows are inserted
-- there by position).
CREATE TABLE approval_reasons (
    approval_id  VARCHAR PRIMARY KEY,
    reason       VARCHAR NOT NULL,
    decided_by   VARCHAR NOT NULL,
    decided_at   TIMESTAMPTZ NOT NULL
);

-- The set hours (C13) through time: each weekday's span from valid_from (UTC) until the next
-- row of that weekday.  opens/closes NULL = closed that day.  The auditor's out-of-hours alert
-- judges each record by the hours in force when it was made, not by today's.
CREATE TABLE working_hours_history (
    weekday      INTEGER NOT NULL,          -- 0 = Monday … 6 = Sunday, Japan time
    valid_from   TIMESTAMP NOT NULL,        -- UTC
    opens        TIME,
    closes       TIME,                      -- 24:00 is written as 23:59:59.999999
    changed_by   VARCHAR NOT NULL,
    PRIMARY KEY (weekday, valid_from)
);

-- The history so far, from the audit log: until the first access.set_hours every hour was open
-- (migration 0007); each later change is in its record's params (the whole week after the change).
-- A workspace whose log holds no change keeps today's hours from the beginning.
CREATE TEMP TABLE _hour_changes AS
SELECT CAST(replace(replace(logged_at, 'Z', ''), '+00:00', '') AS TIMESTAMP) AS changed_at,
       d.weekday,
       json_extract_string(params, '$.hours.' || d.code) AS span
FROM audit_log,
     (SELECT * FROM (VALUES (0, 'mon'), (1, 'tue'), (2, 'wed'), (3, 'thu'), (4, 'fri'), (5, 'sat'), (6, 'sun')) v(weekday, code)) d
WHERE operation = 'access.set_hours' AND outcome = 'ok' AND json_exists(params, '$.hours');

INSERT INTO working_hours_history
SELECT d, TIMESTAMP '1970-01-01 00:00:00', TIME '00:00:00', TIME '23:59:59.999999', 'migration'
FROM range(7) t(d) WHERE EXISTS (SELECT 1 FROM _hour_changes);

INSERT INTO working_hours_history
SELECT d, TIMESTAMP '1970-01-01 00:00:00', h.opens, h.closes, 'migration'
FROM range(7) t(d) LEFT JOIN working_hours h ON h.weekday = d
WHERE NOT EXISTS (SELECT 1 FROM _hour_changes);

INSERT INTO working_hours_history
SELECT weekday, changed_at,
       CASE WHEN span IS NULL THEN NULL ELSE CAST(split_part(span, '-', 1) AS TIME) END,
       CASE WHEN span IS NULL THEN NULL WHEN split_part(span, '-', 2) = '24:00' THEN TIME '23:59:59.999999'
            ELSE CAST(split_part(span, '-', 2) AS TIME) END,
       'migration'
FROM _hour_changes
QUALIFY row_number() OVER (PARTITION BY weekday, changed_at ORDER BY changed_at) = 1;

DROP TABLE _hour_changes;
