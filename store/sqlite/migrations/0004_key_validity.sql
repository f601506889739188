-- Until when a slot's previous key stays valid (Unix nanoseconds), fixed
-- when the slot changed; NULL: not valid. The previous keys stored before
-- this column existed had no such bound, and their validity was derived
-- from settings read later, so they are dropped: a replaced key is
-- refused, the safe reading.
ALTER TABLE keys ADD COLUMN previous_valid_until INTEGER;
UPDATE keys SET previous_digest = NULL, previous_ciphertext = NULL;
-- Finds the replaced keys whose window has ended, to drop them.
CREATE INDEX keys_previous_valid_until ON keys (previous_valid_until) WHERE previous_valid_until IS NOT NULL;
