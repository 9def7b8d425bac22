-- C13 for batch accounts (issue 22 item 7): each batch account runs only in hours declared for it.
-- A weekday without a row is closed to the account.  Accounts that existed before keep running at
-- any hour (as they did), now declared, visible and changeable with `workbench batch-account hours`.
CREATE TABLE batch_account_hours (
    user_id   VARCHAR NOT NULL,
    weekday   INTEGER NOT NULL,      -- 0 = Monday, Japan time
    opens     TIME NOT NULL,
    closes    TIME NOT NULL,
    PRIMARY KEY (user_id, weekday)
);
INSERT INTO batch_account_hours
    SELECT b.user_id, d.weekday, TIME '00:00:00', TIME '23:59:59.999999'
    FROM batch_accounts b, (SELECT unnest(range(7)) AS weekday) d;
