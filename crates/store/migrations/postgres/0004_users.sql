-- Operators and their sign-in sessions (issue 5). A session is found by the SHA-256 of its
-- token, so a copy of the database gives no one a live session.
CREATE TABLE users (
    username      TEXT COLLATE "C" PRIMARY KEY,
    display_name  TEXT NOT NULL,
    role          TEXT COLLATE "C" NOT NULL,
    organisations TEXT COLLATE "C" NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    failures      INTEGER NOT NULL DEFAULT 0,
    last_failure  BIGINT,
    created_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT COLLATE "C" PRIMARY KEY,
    username   TEXT COLLATE "C" NOT NULL REFERENCES users (username),
    csrf       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX sessions_username ON sessions (username);
