-- Test and benchmark data for the inbox reference schema, generated in SQL.
-- 2,001 accounts, 30,000 conversations (10,000 in the pagination account,
-- 2,000 of them sharing one updated_at), 200,000 messages, 5,000 users.

INSERT INTO whatsapp_accounts (name, phone_number_id)
SELECT 'account ' || g, (100000000000 + g)::text FROM generate_series(1, 2000) AS g;

INSERT INTO whatsapp_accounts (id, name, phone_number_id)
VALUES ('00000000-0000-0000-0000-00000000feed', 'pagination', 'pagination');

INSERT INTO app_users (user_id, email)
SELECT gen_random_uuid(), 'user' || g || '@example.com' FROM generate_series(1, 5000) AS g;

INSERT INTO app_roles (name) VALUES ('owner'), ('admin'), ('agent'), ('viewer'), ('bot');

INSERT INTO app_user_roles (user_id, role_id)
SELECT u.user_id, r.id
  FROM (SELECT user_id, row_number() OVER (ORDER BY user_id) AS rn FROM app_users) AS u
  JOIN (SELECT id, row_number() OVER (ORDER BY name) AS rn FROM app_roles) AS r
    ON r.rn = (u.rn % 5) + 1;

WITH a AS (
    SELECT id, row_number() OVER (ORDER BY id) AS rn
      FROM whatsapp_accounts WHERE name <> 'pagination'
)
INSERT INTO conversations (account_id, client_number, updated_at, created_at)
SELECT a.id, '+33' || g,
       timestamptz '2025-01-01 00:00:00+00' + g * interval '1 minute',
       timestamptz '2025-01-01 00:00:00+00'
  FROM generate_series(1, 20000) AS g
  JOIN a ON a.rn = (g % 2000) + 1;

INSERT INTO conversations (account_id, client_number, updated_at)
SELECT '00000000-0000-0000-0000-00000000feed', '+1' || g,
       CASE WHEN g <= 2000 THEN timestamptz '2025-06-01 12:00:00+00'
            ELSE timestamptz '2025-05-01 00:00:00+00' + (g / 7) * interval '1 second' END
  FROM generate_series(1, 10000) AS g;

WITH c AS (
    SELECT id, row_number() OVER (ORDER BY id) AS rn
      FROM conversations
     WHERE account_id <> '00000000-0000-0000-0000-00000000feed'
)
INSERT INTO messages (conversation_id, direction, content, "timestamp")
SELECT c.id, CASE WHEN g % 2 = 0 THEN 'inbound' ELSE 'outbound' END, 'message ' || g,
       timestamptz '2025-01-01 00:00:00+00' + (g / 3) * interval '1 second'
  FROM generate_series(1, 200000) AS g
  JOIN c ON c.rn = (g % 20000) + 1;
