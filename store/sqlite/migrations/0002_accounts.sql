-- Cognitive Services accounts. Their subscription keys and QnA endpoint
-- keys live in the keys table under the owners AccountID.SubscriptionKeys()
-- and AccountID.EndpointKeys().
CREATE TABLE accounts (
    key            TEXT PRIMARY KEY,   -- lower-cased ARM id
    subscription   TEXT NOT NULL,
    resource_group TEXT NOT NULL,
    name_lower     TEXT NOT NULL,
    doc            TEXT NOT NULL
) STRICT;
CREATE INDEX accounts_scope ON accounts (subscription, resource_group, name_lower);
