-- 0005: API keys of the HTTP service (`tablemend serve`), kept in tablemend's bookkeeping schema. Only a SHA-256 of
-- each key is stored (keys are 32 random bytes, so a fast hash is enough and a leaked table yields no key); the
-- prefix is the key's first characters, shown by `tablemend keys list` so an operator can tell keys apart. A key is
-- scoped to restaurants (all_restaurants for an operator key) and to scopes: read, assign, repair.
CREATE TABLE tablemend.api_keys (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name            text NOT NULL CHECK (btrim(name) <> ''),
    prefix          text NOT NULL,
    key_hash        bytea NOT NULL CHECK (octet_length(key_hash) = 32),
    all_restaurants boolean NOT NULL DEFAULT false,
    restaurant_ids  uuid[] NOT NULL DEFAULT '{}',
    scopes          text[] NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      text NOT NULL DEFAULT current_user,
    revoked_at      timestamptz,
    CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash),
    CONSTRAINT api_keys_scopes_check CHECK (cardinality(scopes) > 0
                                            AND scopes <@ ARRAY['read', 'assign', 'repair']::text[]),
    CONSTRAINT api_keys_restaurants_check CHECK (all_restaurants OR cardinality(restaurant_ids) > 0),
    CONSTRAINT api_keys_restaurant_ids_not_null CHECK (array_position(restaurant_ids, NULL) IS NULL)
);
REVOKE ALL ON tablemend.api_keys FROM PUBLIC;
