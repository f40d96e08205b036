-- btree_gist lets one exclusion constraint say "same restaurant, same table, overlapping window".
CREATE EXTENSION IF NOT EXISTS btree_gist;
