# The queue between the interactions function (which must answer Discord within 3 seconds) and the respond
# function (which takes longer). Task names are derived from the interaction id, so Discord's retries of one
# interaction enqueue one task. Cloud Tasks delivers at least once: respond is idempotent.
resource "google_cloud_tasks_queue" "respond" {
  name     = local.tasks_queue_name
  location = var.region

  rate_limits {
    max_dispatches_per_second = var.tasks.max_dispatches_per_second
    max_concurrent_dispatches = var.tasks.max_concurrent_dispatches
  }

  # Exponential backoff: min_backoff, doubling max_doublings times, capped at max_backoff; never more than
  # max_attempts attempts, and none started after max_retry_duration (the interaction token's life).
  retry_config {
    max_attempts       = var.tasks.max_attempts
    min_backoff        = var.tasks.min_backoff
    max_backoff        = var.tasks.max_backoff
    max_doublings      = var.tasks.max_doublings
    max_retry_duration = var.tasks.max_retry_duration
  }

  # Queue-level routing: whatever URL or identity a task asks for, every task goes to the respond function
  # with an OIDC token of the tasks service account. A leaked enqueuer credential cannot aim the tasks
  # account's token at anything else.
  http_target {
    http_method = "POST"

    uri_override {
      scheme                    = "HTTPS"
      host                      = local.respond_host
      uri_override_enforce_mode = "ALWAYS"

      path_override {
        path = "/"
      }
    }

    oidc_token {
      service_account_email = google_service_account.sa["tasks"].email
      audience              = local.respond_url
    }
  }

  stackdriver_logging_config {
    sampling_ratio = 1.0
  }

  depends_on = [google_project_service.apis]
}

# Only the tasks service account may call the respond function: see local.functions (functions.tf), whose
# `invokers` table is the only source of roles/run.invoker grants on the functions.

