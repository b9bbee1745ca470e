-- wa_perfkit: transaction=on
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
-- lose an update. Each refresh first locks the app_users rows it will write
-- (in user_id order, so two refreshes cannot deadlock), then computes the
-- cache in a new statement, whose READ COMMITTED snapshot is taken after the
-- lock and therefore sees the other transaction's committed rows.

ALTER TABLE app_users ADD COLUMN IF NOT EXISTS roles_cache jsonb NOT NULL DEFAULT '[]'::jsonb;

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

-- The seed's trigger, if it was installed, would keep writing wrong caches.
DROP TRIGGER IF EXISTS trigger_update_user_roles_cache ON app_user_roles;

DROP TRIGGER IF EXISTS wa_perfkit_user_roles_cache ON app_user_roles;
CREATE TRIGGER wa_perfkit_user_roles_cache
    AFTER INSERT OR UPDATE OR DELETE ON app_user_roles
    FOR EACH ROW EXECUTE FUNCTION wa_perfkit_user_roles_changed();

DROP TRIGGER IF EXISTS wa_perfkit_user_roles_truncate ON app_user_roles;
CREATE TRIGGER wa_perfkit_user_roles_truncate
    AFTER TRUNCATE ON app_user_roles
    FOR EACH STATEMENT EXECUTE FUNCTION wa_perfkit_user_roles_truncated();

DROP TRIGGER IF EXISTS wa_perfkit_role_renamed ON app_roles;
CREATE TRIGGER wa_perfkit_role_renamed
    AFTER UPDATE OF name ON app_roles
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION wa_perfkit_role_renamed();

-- Backfill: every existing user gets the exact cache.
UPDATE app_users
   SET roles_cache = wa_perfkit_user_roles(user_id)
 WHERE roles_cache IS DISTINCT FROM wa_perfkit_user_roles(user_id);
