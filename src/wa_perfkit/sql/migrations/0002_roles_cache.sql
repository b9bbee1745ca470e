-- wa_perfkit: transaction=each
--
-- 0002 - denormalised roles: app_users.roles_cache, kept exact by triggers.
--
-- The seed's trigger recomputed the cache for NEW.user_id on INSERT, UPDATE
-- and DELETE. On DELETE, NEW is NULL, so it updated nothing and the deleted
-- role stayed in the cache; an UPDATE moving a row to another user refreshed
-- only the new user; renaming a role refreshed no one. These triggers handle
-- all of those, plus TRUNCATE.
--
-- Concurrency: two transactions changing one user's roles at once must not
-- lose an update, and must not deadlock where they would not without the
-- trigger. The cache is refreshed when the transaction commits (a deferred
-- constraint trigger): the refresh locks the app_users row, then computes the
-- cache in a new statement, whose READ COMMITTED snapshot is taken after the
-- lock and therefore sees the other transaction's committed rows. Locking at
-- commit, when the transaction wants no other lock, is what cannot form a
-- cycle; a trigger that fires with the statement locks the user while its
-- role rows are locked, and a second admin holding another role row of that
-- user then waits for it while it waits for that row. A transaction that must
-- read its own roles_cache before committing runs
-- SET CONSTRAINTS wa_perfkit_user_roles_cache IMMEDIATE.
--
-- Live databases (transaction=each): every statement below runs in its own
-- short transaction, under lock_timeout with retries, and locks at most one
-- table, so it cannot join a lock cycle with the application (which locks
-- app_user_roles, then app_users). Schema changes are skipped when already
-- in place, so re-running this file takes no table lock. The backfill runs
-- last, in batches of 500 users, each its own transaction.

DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_attribute
         WHERE attrelid = 'app_users'::regclass AND attname = 'roles_cache' AND NOT attisdropped
    ) THEN
        -- A constant default: no table rewrite (PostgreSQL 11+), the lock lasts milliseconds.
        ALTER TABLE app_users ADD COLUMN roles_cache jsonb NOT NULL DEFAULT '[]'::jsonb;
    END IF;
END;
$$;

-- The one definition of a user's roles, in a deterministic order, so the
-- cache can be compared with a fresh JOIN.
CREATE OR REPLACE FUNCTION wa_perfkit_user_roles(p_user_id uuid)
RETURNS jsonb
LANGUAGE sql
STABLE
AS $$
    SELECT coalesce(
        jsonb_agg(
            jsonb_build_object('role_id', r.role_id, 'account_id', r.account_id, 'role_name', ar.name)
            ORDER BY ar.name, r.role_id, r.account_id NULLS FIRST, r.id
        ),
        '[]'::jsonb
    )
    FROM app_user_roles r
    JOIN app_roles ar ON ar.id = r.role_id
    WHERE r.user_id = p_user_id
$$;

CREATE OR REPLACE FUNCTION wa_perfkit_refresh_roles_cache(p_user_ids uuid[])
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    -- In user_id order, so two refreshes of several users cannot deadlock.
    PERFORM 1 FROM app_users
     WHERE user_id = ANY (p_user_ids)
     ORDER BY user_id
       FOR NO KEY UPDATE;
    UPDATE app_users u
       SET roles_cache = wa_perfkit_user_roles(u.user_id)
     WHERE u.user_id = ANY (p_user_ids)
       AND u.roles_cache IS DISTINCT FROM wa_perfkit_user_roles(u.user_id);
END;
$$;

CREATE OR REPLACE FUNCTION wa_perfkit_user_roles_changed()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM wa_perfkit_refresh_roles_cache(ARRAY[NEW.user_id]);
    ELSIF TG_OP = 'UPDATE' THEN
        -- A row moved to another user changes both users' roles.
        PERFORM wa_perfkit_refresh_roles_cache(ARRAY[OLD.user_id, NEW.user_id]);
    ELSE
        -- DELETE: only OLD exists (the seed read NEW here, which is NULL).
        PERFORM wa_perfkit_refresh_roles_cache(ARRAY[OLD.user_id]);
    END IF;
    RETURN NULL;  -- AFTER trigger: the return value is ignored.
END;
$$;

CREATE OR REPLACE FUNCTION wa_perfkit_user_roles_truncated()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE app_users SET roles_cache = '[]'::jsonb WHERE roles_cache <> '[]'::jsonb;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION wa_perfkit_role_renamed()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM wa_perfkit_refresh_roles_cache(
        ARRAY(SELECT DISTINCT user_id FROM app_user_roles WHERE role_id = NEW.id)
    );
    RETURN NULL;
END;
$$;

-- One batch of the backfill: the users after p_after, in user_id order.
-- Returns the last user_id done, or NULL when there are no more.
CREATE OR REPLACE FUNCTION wa_perfkit_backfill_roles_cache(p_after uuid, p_batch integer)
RETURNS uuid
LANGUAGE plpgsql
AS $$
DECLARE
    v_ids uuid[];
BEGIN
    SELECT array_agg(user_id ORDER BY user_id) INTO v_ids
      FROM (SELECT user_id FROM app_users
             WHERE p_after IS NULL OR user_id > p_after
             ORDER BY user_id
             LIMIT p_batch) AS batch;
    IF v_ids IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM wa_perfkit_refresh_roles_cache(v_ids);
    RETURN v_ids[array_length(v_ids, 1)];
END;
$$;

-- app_user_roles only. Drops the seed's trigger (it would keep writing wrong
-- caches) and the immediate trigger of earlier wa_perfkit versions.
DO $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM pg_catalog.pg_trigger
         WHERE tgrelid = 'app_user_roles'::regclass
           AND (tgname = 'trigger_update_user_roles_cache'
                OR (tgname = 'wa_perfkit_user_roles_cache' AND NOT tgdeferrable))
    ) THEN
        DROP TRIGGER IF EXISTS trigger_update_user_roles_cache ON app_user_roles;
        DROP TRIGGER IF EXISTS wa_perfkit_user_roles_cache ON app_user_roles;
    END IF;
    IF NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_trigger
         WHERE tgrelid = 'app_user_roles'::regclass AND tgname = 'wa_perfkit_user_roles_cache'
    ) THEN
        CREATE CONSTRAINT TRIGGER wa_perfkit_user_roles_cache
            AFTER INSERT OR UPDATE OR DELETE ON app_user_roles
            DEFERRABLE INITIALLY DEFERRED
            FOR EACH ROW EXECUTE FUNCTION wa_perfkit_user_roles_changed();
    END IF;
    IF NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_trigger
         WHERE tgrelid = 'app_user_roles'::regclass AND tgname = 'wa_perfkit_user_roles_truncate'
    ) THEN
        CREATE TRIGGER wa_perfkit_user_roles_truncate
            AFTER TRUNCATE ON app_user_roles
            FOR EACH STATEMENT EXECUTE FUNCTION wa_perfkit_user_roles_truncated();
    END IF;
END;
$$;

-- app_roles only.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_trigger
         WHERE tgrelid = 'app_roles'::regclass AND tgname = 'wa_perfkit_role_renamed'
    ) THEN
        CREATE TRIGGER wa_perfkit_role_renamed
            AFTER UPDATE OF name ON app_roles
            FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
            EXECUTE FUNCTION wa_perfkit_role_renamed();
    END IF;
END;
$$;

-- Backfill: every existing user gets the exact cache, 500 users per
-- transaction (the runner repeats this statement, passing the last user_id
-- back, until it returns NULL). The triggers above already keep changed users
-- exact, so the batches may run while the application writes.
-- wa_perfkit: repeat
SELECT wa_perfkit_backfill_roles_cache(%s, 500)
