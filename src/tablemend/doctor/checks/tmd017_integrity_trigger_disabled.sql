-- name: detect
-- A trigger of tablemend's schema was disabled (ALTER TABLE … DISABLE TRIGGER, often left behind by a bulk load):
-- terminal bookings stop releasing, ledger rows stop being checked, history stops being archived.
SELECT NULL::uuid AS booking_id, NULL::uuid AS table_id, NULL::uuid AS restaurant_id,
       format('trigger %%s on %%s is disabled', t.tgname, t.tgrelid::regclass) AS detail,
       jsonb_build_object('trigger', t.tgname, 'relation', t.tgrelid::regclass::text) AS key,
       jsonb_build_object('enabled', t.tgenabled) AS metadata
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND NOT t.tgisinternal AND t.tgenabled = 'D'
  AND c.relname IN ('bookings', 'booking_table_assignments', 'booking_assignment_idempotency', 'table_holds',
                    'table_hold_members')
ORDER BY c.relname, t.tgname;
