"""The whole store on Firestore (the cloud), with one `google.cloud.firestore.Client` (DESIGN.md §3).

`FirestoreStore` implements every port of `docsbot.store.ports`; its roles live in mixins, one file each with
its part of the layout (`firestore_conversations`: threads, messages, votes; `firestore_learning`: solutions, reasons;
`firestore_ledger`: interactions, quotas, leases; `firestore_crawl`: sources, their pages, runs) over
`firestore_base` (the client, the collections, the optimistic read-modify-write). Top-level collections:

    threads, interactions, quotas, sources, runs, leases

with `prefix` prepended to each (tests, or two deployments in one project). The names and fields are the ones
deployed data and the Terraform TTL policies (`interactions.expires_at`, `quotas.expires_at`) depend on:
never rename them. Importing this module imports google-cloud-firestore: `docsbot.app.stores` does it only
when Firestore is asked for.
"""

from __future__ import annotations

from docsbot.store.firestore_base import ContentionError
from docsbot.store.firestore_conversations import FirestoreConversations
from docsbot.store.firestore_crawl import FirestoreCrawl
from docsbot.store.firestore_learning import FirestoreLearning
from docsbot.store.firestore_ledger import FirestoreLedger

__all__ = ["ContentionError", "FirestoreStore"]


class FirestoreStore(FirestoreConversations, FirestoreLearning, FirestoreLedger, FirestoreCrawl):
    """`docsbot.store.ports.Store` on a `google.cloud.firestore.Client` (thread-safe: the client is)."""
