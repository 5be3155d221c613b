-- How each holding's people were hashed (store.HashHMAC = 1: HMAC-SHA256
-- truncated to 64 bits, every holding recorded before this migration;
-- store.HashSipHash = 2: SipHash-2-4 under a key derived from
-- holders.key). The stored hashes cannot be re-hashed without the
-- people's keys, so old holdings keep theirs and lookups hash the person
-- under each holding's scheme.
ALTER TABLE holding ADD COLUMN hashing INTEGER NOT NULL DEFAULT 1;
