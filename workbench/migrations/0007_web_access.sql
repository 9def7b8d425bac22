-- Web sessions (DESIGN §10) and the access policy of set hours and registered terminals (C13).

-- One row per login through the web server; the cookie itself is never stored.
CREATE TABLE web_sessions (
    session_id   VARCHAR PRIMARY KEY,
    user_id      VARCHAR NOT NULL,
    terminal     VARCHAR,                   -- the registered terminal it came from
    started_at   TIMESTAMPTZ NOT NULL,
    ended_at     TIMESTAMPTZ,
    end_reason   VARCHAR                    -- logout, idle, out_of_hours, server_restart, disabled
);

-- A kernel started for a web session gets a one-time ticket (its hash here) to become that session.
CREATE TABLE kernel_tickets (
    ticket_hash  VARCHAR PRIMARY KEY,
    session_id   VARCHAR NOT NULL,
    user_id      VARCHAR NOT NULL,
    kernel_id    VARCHAR NOT NULL,
    issued_at    TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    used_at      TIMESTAMPTZ
);

-- Set hours by weekday (0 = Monday … 6 = Sunday), in Japan time; no row = closed that day.
CREATE TABLE working_hours (
    weekday      INTEGER PRIMARY KEY,
    opens        TIME NOT NULL,
    closes       TIME NOT NULL              -- 24:00 is written as 23:59:59.999999
);
-- Until an administrator sets the office's hours, every hour is open.
INSERT INTO working_hours SELECT d, TIME '00:00:00', TIME '23:59:59.999999' FROM range(7) t(d);

-- Use outside the set hours, approved by a second person for one user and one period.
CREATE TABLE hour_exceptions (
    exception_id VARCHAR PRIMARY KEY,
    user_id      VARCHAR NOT NULL,
    starts_at    TIMESTAMPTZ NOT NULL,
    ends_at      TIMESTAMPTZ NOT NULL,
    reason       VARCHAR NOT NULL,
    approval_id  VARCHAR NOT NULL,
    granted_by   VARCHAR NOT NULL,
    granted_at   TIMESTAMPTZ NOT NULL
);

-- Registered terminals: a network address or range, or a client certificate's SHA-256 fingerprint.
CREATE TABLE terminals (
    terminal_id   VARCHAR PRIMARY KEY,
    kind          VARCHAR NOT NULL,         -- address, certificate
    value         VARCHAR NOT NULL,
    label         VARCHAR NOT NULL,
    registered_by VARCHAR NOT NULL,
    registered_at TIMESTAMPTZ NOT NULL,
    removed_at    TIMESTAMPTZ
);
-- The server itself: the dashboards are served on 127.0.0.1 by default.
INSERT INTO terminals VALUES
    ('T-LOCAL4', 'address', '127.0.0.1/32', 'このサーバー / this server (IPv4)', 'system', now(), NULL),
    ('T-LOCAL6', 'address', '::1/128', 'このサーバー / this server (IPv6)', 'system', now(), NULL);
