-- tablemend's schema, current state. Must equal the replay of every file in migrations/ (tests/migration checks).
CREATE EXTENSION IF NOT EXISTS btree_gist;
