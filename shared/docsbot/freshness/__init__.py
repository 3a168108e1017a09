"""Keeping the index fresh: the scheduled scrape job, its durable records, and the authenticated ingest endpoint.

- `model`: the records (page states, source summaries, run records, leases);
- `store`: the `FreshnessStore` protocol and its embedded SQLite implementation; `firestore_store` for the cloud;
- `lease`: one writer at a time per source (scrape job) or per collection (ingest endpoint);
- `job`: the scrape job (sharding, incremental crawls, safe deletions, run records, exit status);
- `ingest`, `auth`, `http`: the ingest endpoint (batch model, authentication, Flask glue);
- `settings`: environment variables of the job and the endpoint, validated at start; `wiring` builds both;
- `status`: what `docsbot status` shows per collection.

The client side of the endpoint is `docsbot.push`; the commands are in `docsbot.cli_freshness`.
"""
