-- Named queries of tablemend.keys: API keys of the HTTP service (table in migrations/0005_api_keys.sql).

-- name: create
INSERT INTO tablemend.api_keys (name, prefix, key_hash, all_restaurants, restaurant_ids, scopes)
VALUES (%(name)s, %(prefix)s, %(key_hash)s, %(all_restaurants)s, %(restaurant_ids)s::uuid[], %(scopes)s::text[])
RETURNING id, name, prefix, all_restaurants, restaurant_ids, scopes, created_at, created_by, revoked_at;

-- name: unknown_restaurants
-- The ids of the list that name no restaurant (a key for a typo would silently grant nothing).
SELECT u.id FROM unnest(%(ids)s::uuid[]) AS u(id)
WHERE NOT EXISTS (SELECT 1 FROM restaurants r WHERE r.id = u.id)
ORDER BY u.id;

-- name: list
SELECT id, name, prefix, all_restaurants, restaurant_ids, scopes, created_at, created_by, revoked_at
FROM tablemend.api_keys
WHERE %(include_revoked)s OR revoked_at IS NULL
ORDER BY created_at, id;

-- name: revoke
UPDATE tablemend.api_keys SET revoked_at = COALESCE(revoked_at, now())
WHERE id = %(id)s
RETURNING id, name, prefix, all_restaurants, restaurant_ids, scopes, created_at, created_by, revoked_at;

-- name: authenticate
SELECT id, name, prefix, all_restaurants, restaurant_ids, scopes, created_at, created_by, revoked_at
FROM tablemend.api_keys
WHERE key_hash = %(key_hash)s AND revoked_at IS NULL;

-- name: active_count
SELECT count(*) AS n FROM tablemend.api_keys WHERE revoked_at IS NULL;
