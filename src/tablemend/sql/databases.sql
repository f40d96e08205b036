-- Named queries of tablemend.databases.

-- name: exists
SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = %(name)s) AS x

-- name: current
SELECT current_database() AS name
