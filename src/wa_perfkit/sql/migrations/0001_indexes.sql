-- wa_perfkit: transaction=off
--
-- 0001 - the seed's six indexes, plus the two keyset-pagination indexes.
--
-- CREATE INDEX CONCURRENTLY does not block writes while it builds, which is
-- what a live inbox needs, but it cannot run inside a transaction block: the
-- runner executes this file one statement at a time in autocommit mode. A
-- concurrent build that fails (deadlock, cancel, unique violation) leaves an
-- INVALID index behind that IF NOT EXISTS would then silently keep: the
-- runner detects those (pg_index.indisvalid = false), drops them
-- CONCURRENTLY and builds them again.

-- list_conversations: WHERE account_id = $1 ORDER BY updated_at DESC (seed, 1/6).
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_conversations_account_updated
    ON conversations (account_id, updated_at DESC);

-- get_messages: WHERE conversation_id = $1 ORDER BY timestamp DESC (seed, 2/6).
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_messages_conversation_timestamp
    ON messages (conversation_id, "timestamp" DESC);

-- conversations of a contact (seed, 3/6).
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_conversations_contact
    ON conversations (contact_id);

-- webhook routing: phone_number_id -> account (seed, 4/6).
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_accounts_phone_number_id
    ON whatsapp_accounts (phone_number_id);

-- the user lookup behind every authenticated request (seed, 5/6). Redundant
-- with the reference schema's primary key, kept for schemas whose app_users
-- key is a separate id column.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_app_users_user_id
    ON app_users (user_id);

-- roles of a user (seed, 6/6).
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_user_roles_user_id
    ON app_user_roles (user_id);

-- Keyset pagination: the full sort key (updated_at, id) after the equality
-- column, so "(updated_at, id) < ($2, $3) ORDER BY updated_at DESC, id DESC
-- LIMIT n" is one index range scan with no sort, at any depth.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_conversations_account_keyset
    ON conversations (account_id, updated_at DESC, id DESC);

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_messages_conversation_keyset
    ON messages (conversation_id, "timestamp" DESC, id DESC);
