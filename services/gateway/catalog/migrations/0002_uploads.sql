-- Uploads in progress.

-- A multipart upload's S3 upload id, on its pending record: completeMultiPartUpload checks the
-- record's owner before it touches S3, and the expiry aborts an upload never completed (its
-- parts would otherwise stay in S3 for good). NULL for pre-signed POST uploads.
ALTER TABLE files ADD COLUMN upload_id text;

-- The per-user cap on pending uploads counts these (one index scan per upload request).
CREATE INDEX files_pending_owner ON files (created_by) WHERE status = 'pending';
