# Firestore in native mode: threads, messages, votes, collections, channels and interaction records.
resource "google_firestore_database" "default" {
  name        = "(default)"
  location_id = var.firestore_location
  type        = "FIRESTORE_NATIVE"

  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = var.deletion_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  deletion_policy                   = "DELETE" # `terraform destroy` deletes the data once deletion_protection is false

  depends_on = [google_project_service.apis]
}

# Interaction records (`interactions/{id}`: queued / answering / done / failed) are only needed while Discord
# may still retry or Cloud Tasks may still deliver: Firestore's TTL policy deletes each one after its
# `expires_at` timestamp (deletion usually happens within 24 hours of it). The field is not indexed: nothing
# queries it, and an index on a timestamp that grows with time would only add write cost.
resource "google_firestore_field" "interactions_ttl" {
  database   = google_firestore_database.default.name
  collection = "interactions"
  field      = "expires_at"

  ttl_config {}
  index_config {}
}

# Hourly question budgets (`quotas/{key}__{window}__{bucket}`) are only needed until their window ends; the
# store sets `expires_at` to the window's end so old counters are deleted the same way.
resource "google_firestore_field" "quotas_ttl" {
  database   = google_firestore_database.default.name
  collection = "quotas"
  field      = "expires_at"

  ttl_config {}
  index_config {}
}
