-- wa_perfkit: transaction=on
--
-- 0003 - mv_users_with_roles: each user with the roles JOIN precomputed.
--
-- The alternative to roles_cache for admin listings that read many users at
-- once. A materialized view is a snapshot: refresh it after role changes or
-- on a schedule (pg_cron: SELECT wa_perfkit_refresh_users_with_roles();).
-- The unique index on user_id is what allows REFRESH ... CONCURRENTLY, which
-- rebuilds the view without blocking readers.
--
-- Built with a LATERAL subquery rather than the seed's "u.* ... GROUP BY
-- u.user_id", which only works when user_id is the primary key.

CREATE MATERIALIZED VIEW IF NOT EXISTS mv_users_with_roles AS
SELECT u.user_id,
       u.email,
       u.display_name,
       u.is_active,
       u.created_at,
       roles.roles
  FROM app_users u
  CROSS JOIN LATERAL (
        SELECT coalesce(
                   jsonb_agg(
                       jsonb_build_object('role_id', r.role_id, 'account_id', r.account_id, 'role_name', ar.name)
                       ORDER BY ar.name, r.role_id, r.account_id NULLS FIRST, r.id
                   ),
                   '[]'::jsonb
               ) AS roles
          FROM app_user_roles r
          JOIN app_roles ar ON ar.id = r.role_id
         WHERE r.user_id = u.user_id
       ) AS roles;

CREATE UNIQUE INDEX IF NOT EXISTS mv_users_with_roles_user_id
    ON mv_users_with_roles (user_id);

CREATE OR REPLACE FUNCTION wa_perfkit_refresh_users_with_roles()
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    REFRESH MATERIALIZED VIEW CONCURRENTLY mv_users_with_roles;
END;
$$;
