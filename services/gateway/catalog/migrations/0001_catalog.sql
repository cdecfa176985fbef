-- The file catalog: records, remembered deletions, and the settings row.

-- Name search uses trigrams when the server has contrib's pg_trgm (a trusted extension: the
-- database owner may create it). Without it, search falls back to a scan of the ready records.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available (%); name search scans instead', SQLERRM;
END
$$;

CREATE TABLE files (
    id              text        PRIMARY KEY,
    key             text        NOT NULL UNIQUE,
    name            text        NOT NULL,
    type            text        NOT NULL,
    size            bigint      NOT NULL CHECK (size >= 0),
    status          text        NOT NULL CHECK (status IN ('pending', 'ready', 'rejected')),
    tags            text[]      NOT NULL DEFAULT '{}',
    meta            jsonb       NOT NULL DEFAULT '{}',
    created_by      text,
    created_by_name text,
    created_on      timestamptz NOT NULL DEFAULT clock_timestamp(),
    saved_on        timestamptz NOT NULL DEFAULT clock_timestamp(),
    etag            text,
    reason          text
);

-- Listing: newest first, keyset on (created_on, id); only ready records are ever listed.
CREATE INDEX files_ready_newest ON files (created_on DESC, id DESC) WHERE status = 'ready';
CREATE INDEX files_ready_owner_newest ON files (created_by, created_on DESC, id DESC) WHERE status = 'ready';
CREATE INDEX files_ready_tags ON files USING gin (tags) WHERE status = 'ready';
-- Expiry: pending (and rejected) records by age.
CREATE INDEX files_waiting_age ON files (created_on) WHERE status <> 'ready';

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        EXECUTE 'CREATE INDEX files_ready_name_trgm ON files USING gin (name gin_trgm_ops) WHERE status = ''ready''';
    END IF;
END
$$;

-- Keys deleted (by deleteFile or an object.removed event): a late or repeated object.created
-- for one of them never brings its record back. Keys are never reused (each holds a new id).
CREATE TABLE deleted_keys (
    key        text        PRIMARY KEY,
    deleted_on timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- updateSettings: one row; a NULL column means "the gateway's configured default".
CREATE TABLE settings (
    id                   integer     PRIMARY KEY CHECK (id = 1),
    upload_min_file_size bigint,
    upload_max_file_size bigint,
    src_prefix           text,
    allowed_types        text[],
    saved_on             timestamptz NOT NULL DEFAULT clock_timestamp()
);
