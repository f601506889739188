package postgres

// PostgresChannel is notifyChannel, for the external tests.
var PostgresChannel = notifyChannel
