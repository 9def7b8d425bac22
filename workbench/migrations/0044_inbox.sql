-- Issue 20 items 1 and 3: a session a clerk cannot lose.  Where each person is — the screen (a menu
-- key) and what is chosen on it — so a reload, a second tab or a new login after the idle limit
-- returns there.  One row per person; a deliberate logout deletes it.  IDs only (approval, batch,
-- media-ledger entry, review, discrepancy, person numbers), never free text.
CREATE TABLE user_places (
    user_id     VARCHAR PRIMARY KEY,
    app         VARCHAR NOT NULL,               -- menu key, 'home' for the inbox
    kind        VARCHAR NOT NULL,               -- pending.PLACE_KINDS, '' when nothing is chosen
    ref         VARCHAR NOT NULL,               -- the chosen ID, '' when nothing is chosen
    session_id  VARCHAR,                        -- the web session that left it there
    updated_at  TIMESTAMPTZ NOT NULL
);
