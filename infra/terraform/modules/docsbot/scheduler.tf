# The scheduled scrape: an Artifact Registry repository for the scraper image (functions/scrape_job/Dockerfile,
# Chromium included), a Cloud Run job running functions/scrape_job/main.py in N parallel tasks, and a Cloud
# Scheduler job that starts it on a cron schedule.
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

resource "google_cloud_run_v2_job" "scrape" {
  name                = "${var.name_prefix}-scrape"
  location            = var.region
  deletion_protection = var.deletion_protection

  template {
    task_count  = var.scrape.task_count
    parallelism = min(var.scrape.parallelism, var.scrape.task_count)

    template {
      service_account = google_service_account.sa["scrape"].email
      timeout         = var.scrape.timeout
      max_retries     = 1

      containers {
        image   = local.scrape_image
        command = ["python", "/app/main.py"]

        resources {
          limits = {
            cpu    = "1"
            memory = var.scrape.memory
          }
        }

        dynamic "env" {
          for_each = {
            QDRANT_URL               = local.qdrant_url
            DOCSBOT_EMBEDDER         = "openai"
            DOCSBOT_EMBEDDING_MODEL  = var.embedding_model
            DOCSBOT_COLLECTIONS_FILE = "/app/collections.toml" # baked into the image by the Dockerfile
            DOCSBOT_STATE            = "firestore"
            GOOGLE_CLOUD_PROJECT     = var.project_id
          }
          content {
            name  = env.key
            value = env.value
          }
        }

        dynamic "env" {
          for_each = local.secret_env.scrape
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

  depends_on = [google_secret_manager_secret_iam_member.reader, google_project_iam_member.role]
}

# Only the scheduler's service account may start the job (and whoever has project-level Cloud Run roles).
resource "google_cloud_run_v2_job_iam_member" "scheduler_runs_scrape" {
  project  = var.project_id
  location = google_cloud_run_v2_job.scrape.location
  name     = google_cloud_run_v2_job.scrape.name
  role     = "roles/run.invoker"
  member   = google_service_account.sa["scheduler"].member
}

resource "google_cloud_scheduler_job" "scrape" {
  name             = "${var.name_prefix}-scrape"
  region           = var.region
  description      = "Starts the docsbot scrape job."
  schedule         = var.scrape.schedule
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
    uri         = "https://run.googleapis.com/v2/projects/${var.project_id}/locations/${var.region}/jobs/${google_cloud_run_v2_job.scrape.name}:run"

    oauth_token {
      service_account_email = google_service_account.sa["scheduler"].email
      scope                 = "https://www.googleapis.com/auth/cloud-platform"
    }
  }

  depends_on = [google_cloud_run_v2_job_iam_member.scheduler_runs_scrape]
}
