# The optional weekly digest (digest_enabled, default off): a Cloud Run job running `python -m docsbot.app.digest`
# from the scrape job's image (no image of its own), started by Cloud Scheduler on digest_schedule. Each run
# captures the conversations of the threads finished since the last run (GET /channels/{thread}/messages with the
# bot token), builds the gaps report of the last digest_since, and posts its top clusters to the staff channel
# with the HTML report attached. Its service account reads the bot token, the OpenAI key (to embed questions,
# and titles with the chat model) and the read-only Qdrant key; Firestore read/write for the conversations.
locals {
  digest_env = {
    DISCORD_APPLICATION_ID    = var.discord_application_id
    DOCSBOT_STATE             = "firestore"
    GOOGLE_CLOUD_PROJECT      = var.project_id
    QDRANT_URL                = local.qdrant_url
    DOCSBOT_EMBEDDER          = "openai"
    DOCSBOT_EMBEDDING_MODEL   = var.embedding_model
    DOCSBOT_CHAT_MODEL        = var.chat_model
    DOCSBOT_COLLECTIONS_FILE  = "/app/collections.toml" # baked into the image by the Dockerfile
    DOCSBOT_DIGEST_COLLECTION = var.digest_collection
    DOCSBOT_DIGEST_CHANNEL_ID = var.digest_channel_id
    DOCSBOT_DIGEST_SINCE      = var.digest_since
  }
  secret_env_digest = {
    DISCORD_BOT_TOKEN = "discord_bot_token"
    OPENAI_API_KEY    = "openai_api_key"
    QDRANT_API_KEY    = "qdrant_read_only_api_key"
  }
}

resource "google_cloud_run_v2_job" "digest" {
  count = var.digest_enabled ? 1 : 0

  name                = "${var.name_prefix}-digest"
  location            = var.region
  deletion_protection = var.deletion_protection

  template {
    task_count  = 1
    parallelism = 1

    template {
      service_account = google_service_account.sa["digest"].email
      timeout         = "1800s"
      max_retries     = 1

      containers {
        image   = local.scrape_image
        command = ["python", "-m", "docsbot.app.digest"]

        resources {
          limits = {
            cpu    = "1"
            memory = "2Gi"
          }
        }

        dynamic "env" {
          for_each = local.digest_env
          content {
            name  = env.key
            value = env.value
          }
        }

        dynamic "env" {
          for_each = local.secret_env_digest
          content {
            name = env.key
            value_source {
              secret_key_ref {
                secret  = google_secret_manager_secret.secret[env.value].secret_id
                version = "latest"
              }
            }
          }
        }
      }
    }
  }

  lifecycle {
    precondition {
      condition     = can(regex("^[0-9]{17,20}$", var.digest_channel_id)) && var.digest_collection != ""
      error_message = "digest_enabled needs digest_channel_id (the staff channel's id) and digest_collection."
    }
  }

  depends_on = [google_secret_manager_secret_iam_member.reader, google_project_iam_member.role]
}

# Only the scheduler's service account may start the job.
resource "google_cloud_run_v2_job_iam_member" "scheduler_runs_digest" {
  count = var.digest_enabled ? 1 : 0

  project  = var.project_id
  location = google_cloud_run_v2_job.digest[0].location
  name     = google_cloud_run_v2_job.digest[0].name
  role     = "roles/run.invoker"
  member   = google_service_account.sa["scheduler"].member
}

resource "google_cloud_scheduler_job" "digest" {
  count = var.digest_enabled ? 1 : 0

  name             = "${var.name_prefix}-digest"
  region           = var.region
  description      = "Starts the docsbot weekly digest job."
  schedule         = var.digest_schedule
  time_zone        = var.scrape.time_zone
  attempt_deadline = "60s"

  retry_config {
    retry_count          = 3
    min_backoff_duration = "30s"
    max_backoff_duration = "300s"
  }

  http_target {
    http_method = "POST"
    uri         = "https://run.googleapis.com/v2/projects/${var.project_id}/locations/${var.region}/jobs/${google_cloud_run_v2_job.digest[0].name}:run"

    oauth_token {
      service_account_email = google_service_account.sa["scheduler"].email
      scope                 = "https://www.googleapis.com/auth/cloud-platform"
    }
  }

  depends_on = [google_cloud_run_v2_job_iam_member.scheduler_runs_digest]
}
