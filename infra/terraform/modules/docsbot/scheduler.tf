# The scheduled jobs: an Artifact Registry repository for the scraper image (functions/scrape_job/Dockerfile,
# Chromium included) and, generated from one table (local.scheduled_jobs below), a Cloud Run job per scheduled
# job running that image, the grant that lets the scheduler's account start it, and a Cloud Scheduler job that
# starts it on a cron schedule. The old per-job resource addresses are moved onto this table in moved.tf.
locals {
  image_repository = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
  scrape_image     = "${local.image_repository}/scrape-job:${var.scrape_image_tag}"
}

resource "google_artifact_registry_repository" "images" {
  #checkov:skip=CKV_GCP_84:The image holds the open-source scraper and the collections file, no secrets; Google-managed encryption at rest is enough.
  repository_id = "${var.name_prefix}-images"
  location      = var.region
  format        = "DOCKER"
  description   = "docsbot container images (the scrape job)."

  # Keep the ten most recent images; older untagged ones are deleted.
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 10
    }
  }
  cleanup_policies {
    id     = "delete-old-untagged"
    action = "DELETE"
    condition {
      tag_state  = "UNTAGGED"
      older_than = "2592000s" # 30 days
    }
  }

  depends_on = [google_project_service.apis]
}

# --- The scheduled jobs, generated from one table ---------------------------------------------------------------
#
# Everything that differs between the scheduled jobs is an entry of local.scheduled_job_table; the resources
# below are the same for all of them, so a new scheduled job is one entry. Each job runs as its own service
# account (the entry's key, made in iam.tf from `account`), reads exactly `secrets` (its line of
# local.secret_env, so the grants and the variables cannot disagree) and gets the project roles in `roles`. A
# job whose `enabled` is false is left out: nothing of it is created, no account and no grant.
locals {
  # What every scheduled job reads: the index (docsbot.settings.config) and the Firestore state.
  scheduled_job_env = {
    QDRANT_URL               = local.qdrant_url
    DOCSBOT_EMBEDDER         = "openai"
    DOCSBOT_EMBEDDING_MODEL  = var.embedding_model
    DOCSBOT_COLLECTIONS_FILE = "/app/collections.toml" # baked into the image by the Dockerfile
    DOCSBOT_STATE            = "firestore"
    GOOGLE_CLOUD_PROJECT     = var.project_id
  }

  scheduled_job_table = {
    # The scheduled scrape: functions/scrape_job/main.py in N parallel tasks, each scraping its share of the
    # sources (CLOUD_RUN_TASK_INDEX of CLOUD_RUN_TASK_COUNT).
    scrape = {
      enabled     = true
      account     = "Runs the scheduled scrape job"
      description = "Starts the docsbot scrape job."
      command     = ["python", "/app/main.py"]
      schedule    = var.scrape.schedule
      task_count  = var.scrape.task_count
      parallelism = min(var.scrape.parallelism, var.scrape.task_count)
      timeout     = var.scrape.timeout
      memory      = var.scrape.memory
      env         = local.scheduled_job_env
      secrets = {
        OPENAI_API_KEY = "openai_api_key"
        QDRANT_API_KEY = "qdrant_api_key"
      }
      roles = ["roles/datastore.user"] # the write lease and page records shared with the ingest function
      # var.scrape's validations cover everything the scrape job needs.
      precondition = { condition = true, error_message = "The scrape job has no precondition." }
    }

    # The optional weekly digest (digest_enabled, default off): `python -m docsbot.app.digest` from the scrape
    # job's image (no image of its own). Each run captures the conversations of the threads finished since the
    # last run (GET /channels/{thread}/messages with the bot token), builds the gaps report of the last
    # digest_since, and posts its top clusters to the staff channel with the HTML report attached. It reads the
    # bot token, the OpenAI key (to embed questions, and titles with the chat model) and the read-only Qdrant
    # key; Firestore read/write for the conversations.
    digest = {
      enabled     = var.digest_enabled
      account     = "Runs the weekly digest job (reads finished threads, posts the gaps)"
      description = "Starts the docsbot weekly digest job."
      command     = ["python", "-m", "docsbot.app.digest"]
      schedule    = var.digest_schedule
      task_count  = 1
      parallelism = 1
      timeout     = "1800s"
      memory      = "2Gi"
      env = merge(local.scheduled_job_env, {
        DISCORD_APPLICATION_ID    = var.discord_application_id
        DOCSBOT_CHAT_MODEL        = var.chat_model
        DOCSBOT_DIGEST_COLLECTION = var.digest_collection
        DOCSBOT_DIGEST_CHANNEL_ID = var.digest_channel_id
        DOCSBOT_DIGEST_SINCE      = var.digest_since
      })
      secrets = {
        DISCORD_BOT_TOKEN = "discord_bot_token"
        OPENAI_API_KEY    = "openai_api_key"
        QDRANT_API_KEY    = "qdrant_read_only_api_key"
      }
      roles = ["roles/datastore.user"] # threads read, conversations written
      precondition = {
        condition     = can(regex("^[0-9]{17,20}$", var.digest_channel_id)) && var.digest_collection != ""
        error_message = "digest_enabled needs digest_channel_id (the staff channel's id) and digest_collection."
      }
    }
  }

  scheduled_jobs = { for name, job in local.scheduled_job_table : name => job if job.enabled }
}

resource "google_cloud_run_v2_job" "job" {
  for_each = local.scheduled_jobs

  name                = "${var.name_prefix}-${each.key}"
  location            = var.region
  deletion_protection = var.deletion_protection

  template {
    task_count  = each.value.task_count
    parallelism = each.value.parallelism

    template {
      service_account = google_service_account.sa[each.key].email
      timeout         = each.value.timeout
      max_retries     = 1

      containers {
        image   = local.scrape_image
        command = each.value.command

        resources {
          limits = {
            cpu    = "1"
            memory = each.value.memory
          }
        }

        dynamic "env" {
          for_each = each.value.env
          content {
            name  = env.key
            value = env.value
          }
        }

        dynamic "env" {
          for_each = local.secret_env[each.key]
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
      condition     = each.value.precondition.condition
      error_message = each.value.precondition.error_message
    }
  }

  depends_on = [google_secret_manager_secret_iam_member.reader, google_project_iam_member.role]
}

# Only the scheduler's service account may start a job (and whoever has project-level Cloud Run roles).
resource "google_cloud_run_v2_job_iam_member" "scheduler_runs" {
  for_each = local.scheduled_jobs

  project  = var.project_id
  location = google_cloud_run_v2_job.job[each.key].location
  name     = google_cloud_run_v2_job.job[each.key].name
  role     = "roles/run.invoker"
  member   = google_service_account.sa["scheduler"].member
}

resource "google_cloud_scheduler_job" "trigger" {
  for_each = local.scheduled_jobs

  name             = "${var.name_prefix}-${each.key}"
  region           = var.region
  description      = each.value.description
  schedule         = each.value.schedule
  time_zone        = var.scrape.time_zone
  attempt_deadline = "60s"

  retry_config {
    retry_count          = 3
    min_backoff_duration = "30s"
    max_backoff_duration = "300s"
  }

  # The Cloud Run Admin API's jobs.run: starting an execution, authenticated with an OAuth token (googleapis.com
  # endpoints take OAuth, not OIDC).
  http_target {
    http_method = "POST"
    uri         = "https://run.googleapis.com/v2/projects/${var.project_id}/locations/${var.region}/jobs/${google_cloud_run_v2_job.job[each.key].name}:run"

    oauth_token {
      service_account_email = google_service_account.sa["scheduler"].email
      scope                 = "https://www.googleapis.com/auth/cloud-platform"
    }
  }

  depends_on = [google_cloud_run_v2_job_iam_member.scheduler_runs]
}
