-- Up Migration
-- Optional API token expiry (issue 11). NULL means the token never expires, which is what every token made
-- before this release gets. Replicas of the previous release ignore the column; a token that expires while
-- one of them still serves requests is refused only once the rolling deploy is done.
ALTER TABLE api_token ADD COLUMN expires_at timestamptz;
