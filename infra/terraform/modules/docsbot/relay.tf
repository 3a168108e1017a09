# The optional gateway relay (enable_relay, default off): a Cloud Run service running functions/relay/main.py
# from the relay image, holding Discord's Gateway connection and queueing a respond task for each new forum post
# or mention it should answer. One instance exactly (a second would receive every event twice), with its CPU
# always allocated (a websocket must be served between requests; there are no requests), restarted by Cloud Run
# when /healthz fails. Its service account may only add tasks to the respond queue (as the tasks account, whose
# OIDC token the queue sends) and read the bot token: no Firestore, no other secret (iam.tf).
locals {
  relay_image = "${local.image_repository}/relay:${var.relay_image_tag}"

  relay_env = merge(local.bot_env, {
    DOCSBOT_QUEUE                 = "cloudtasks"
    DOCSBOT_TASKS_QUEUE           = local.tasks_queue_path
    DOCSBOT_RESPOND_URL           = "${local.function_base_url}/${var.name_prefix}-respond"
    DOCSBOT_TASKS_SERVICE_ACCOUNT = google_service_account.sa["tasks"].email
    DOCSBOT_COLLECTIONS_FILE      = "/app/collections.toml" # baked into the image by its Dockerfile
  })
}

resource "google_cloud_run_v2_service" "relay" {
  # No traffic reaches it but Cloud Run's own health probe: ingress is internal only, and nobody is granted
  # roles/run.invoker on it.
  count = var.enable_relay ? 1 : 0

  name                = "${var.name_prefix}-relay"
  location            = var.region
  description         = "Discord Gateway relay: answers new forum posts and mentions through the respond queue."
  ingress             = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  deletion_protection = var.deletion_protection

  template {
    service_account                  = google_service_account.sa["relay"].email
    max_instance_request_concurrency = 10

    scaling {
      min_instance_count = 1
      max_instance_count = 1
    }

    containers {
      image   = local.relay_image
      command = ["python", "/app/main.py"]

      resources {
        cpu_idle = false # CPU always allocated: the Gateway connection lives between requests
        limits = {
          cpu    = "1"
          memory = "512Mi"
        }
      }

      liveness_probe {
        initial_delay_seconds = 10
        period_seconds        = 30
        timeout_seconds       = 5
        failure_threshold     = 3
        http_get {
          path = "/healthz"
        }
      }

      dynamic "env" {
        for_each = local.relay_env
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = local.secret_env_relay
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

  depends_on = [google_secret_manager_secret_iam_member.reader]
}

# The relay adds tasks to the one respond queue, minted for the tasks account (the queue's OIDC identity): like
# the interactions function, and nothing more.
resource "google_cloud_tasks_queue_iam_member" "relay_enqueue" {
  count = var.enable_relay ? 1 : 0

  project  = var.project_id
  location = google_cloud_tasks_queue.respond.location
  name     = google_cloud_tasks_queue.respond.name
  role     = "roles/cloudtasks.enqueuer"
  member   = google_service_account.sa["relay"].member
}

resource "google_service_account_iam_member" "relay_act_as_tasks" {
  count = var.enable_relay ? 1 : 0

  service_account_id = google_service_account.sa["tasks"].name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.sa["relay"].member
}
