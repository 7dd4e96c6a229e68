"""Pure reads of stored state behind the HTTP API: listings, evidence packets, statistics, metrics."""
