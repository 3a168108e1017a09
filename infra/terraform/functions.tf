# The three Cloud Functions (2nd gen). Their sources are the zips scripts/build_functions.sh writes (main.py,
# the vendored docsbot package, a requirements.txt holding only what that function imports, and the
# collections file). An object's name carries the zip's MD5, so a rebuilt zip redeploys its function and an
# unchanged one does not (the build script writes byte-identical zips for identical inputs).
locals {
  function_zip_dir = startswith(var.function_source_dir, "/") ? var.function_source_dir : "${path.module}/${var.function_source_dir}"
  function_names   = toset(["interactions", "respond", "ingest"])

  # Where the collections file sits inside each zip once deployed (Cloud Functions unpack sources in /workspace).
  collections_file = "/workspace/collections.toml"

  tasks_queue_path = "projects/${var.project_id}/locations/${var.region}/queues/${google_cloud_tasks_queue.respond.name}"
  respond_url      = google_cloudfunctions2_function.respond.service_config[0].uri
  respond_host     = trimsuffix(trimprefix(local.respond_url, "https://"), "/")

  # The ingest function checks the audience of callers' ID tokens against its own URL, which it cannot read
  # from its own resource: this is the URL Cloud Functions gives it (region-project.cloudfunctions.net/name).
  ingest_name = "${var.name_prefix}-ingest"
  ingest_url  = "https://${var.region}-${var.project_id}.cloudfunctions.net/${local.ingest_name}"

  # The settings both Discord-facing functions read (docsbot.settings.bot).
  bot_env = {
    DISCORD_APPLICATION_ID           = var.discord_application_id
    DOCSBOT_STATE                    = "firestore"
    GOOGLE_CLOUD_PROJECT             = var.project_id
    DOCSBOT_DEFAULT_COLLECTION       = var.default_collection
    DOCSBOT_STAFF_ROLES              = join(",", var.staff_role_ids)
    DOCSBOT_USER_QUESTIONS_PER_HOUR  = tostring(var.user_questions_per_hour)
    DOCSBOT_GUILD_QUESTIONS_PER_HOUR = tostring(var.guild_questions_per_hour)
    LOG_EXECUTION_ID                 = "true"
  }

  # What the index side reads (docsbot.settings.config). QDRANT_URL names port 443: without a port, qdrant-client
  # would connect to 6333, which is closed to the internet (nginx serves Qdrant on 443 only).
  index_env = {
    QDRANT_URL               = local.qdrant_url
    DOCSBOT_EMBEDDER         = "openai"
    DOCSBOT_EMBEDDING_MODEL  = var.embedding_model
    DOCSBOT_COLLECTIONS_FILE = local.collections_file
  }
}

resource "google_storage_bucket" "function_sources" {
  #checkov:skip=CKV_GCP_62:The bucket holds only the function zips built from the public repository; who changed them is in Cloud Audit Logs, and a second bucket just for usage logs would add cost without insight.
  name                        = "${var.project_id}-${var.name_prefix}-sources"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true # holds only build inputs, re-creatable from the repository

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      num_newer_versions = 3
      with_state         = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket_object" "function_source" {
  for_each = local.function_names

  bucket = google_storage_bucket.function_sources.name
  name   = "functions/${each.key}-${filemd5("${local.function_zip_dir}/${each.key}.zip")}.zip"
  source = "${local.function_zip_dir}/${each.key}.zip"
}

# --- interactions: Discord's endpoint, public, kept warm ------------------------------------------------------

resource "google_cloudfunctions2_function" "interactions" {
  #checkov:skip=CKV_GCP_124:Discord calls this endpoint from the internet; every request's Ed25519 signature is verified before anything else.
  name        = "${var.name_prefix}-interactions"
  location    = var.region
  description = "Discord interactions endpoint: verifies signatures, answers at once or defers to respond."

  build_config {
    runtime         = var.python_runtime
    entry_point     = "interactions"
    service_account = google_service_account.sa["builder"].id

    source {
      storage_source {
        bucket = google_storage_bucket.function_sources.name
        object = google_storage_bucket_object.function_source["interactions"].name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.sa["interactions"].email
    min_instance_count               = var.interactions_min_instances
    max_instance_count               = var.functions_max_instances
    available_memory                 = "512Mi"
    timeout_seconds                  = 30
    ingress_settings                 = "ALLOW_ALL" # Discord calls it from the internet
    all_traffic_on_latest_revision   = true
    max_instance_request_concurrency = 1

    environment_variables = merge(local.bot_env, {
      DOCSBOT_QUEUE                 = "cloudtasks"
      DOCSBOT_TASKS_QUEUE           = local.tasks_queue_path
      DOCSBOT_RESPOND_URL           = local.respond_url
      DOCSBOT_TASKS_SERVICE_ACCOUNT = google_service_account.sa["tasks"].email
    })

    dynamic "secret_environment_variables" {
      for_each = local.secret_env.interactions
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = google_secret_manager_secret.secret[secret_environment_variables.value].secret_id
        version    = "latest"
      }
    }
  }

  depends_on = [google_secret_manager_secret_iam_member.reader, google_project_iam_member.role]
}

# Anyone may call it: Discord does, from anywhere. Every request's Ed25519 signature is checked against the
# application's public key before anything else happens (401 otherwise).
resource "google_cloud_run_v2_service_iam_member" "interactions_public" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.interactions.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# --- respond: called by Cloud Tasks only (binding in tasks.tf) ------------------------------------------------

resource "google_cloudfunctions2_function" "respond" {
  #checkov:skip=CKV_GCP_124:Cloud Tasks reaches functions through their public endpoint (internal-only ingress would refuse it); IAM lets only the tasks service account invoke it.
  name        = "${var.name_prefix}-respond"
  location    = var.region
  description = "Answers deferred Discord questions; called by Cloud Tasks only."

  build_config {
    runtime         = var.python_runtime
    entry_point     = "respond"
    service_account = google_service_account.sa["builder"].id

    source {
      storage_source {
        bucket = google_storage_bucket.function_sources.name
        object = google_storage_bucket_object.function_source["respond"].name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.sa["respond"].email
    min_instance_count               = 0
    max_instance_count               = var.functions_max_instances
    available_memory                 = var.respond_memory
    timeout_seconds                  = var.respond_timeout_seconds
    ingress_settings                 = "ALLOW_ALL" # Cloud Tasks is not "internal" traffic; IAM admits the tasks account only
    all_traffic_on_latest_revision   = true
    max_instance_request_concurrency = 1

    environment_variables = merge(local.bot_env, local.index_env, {
      DOCSBOT_CHAT_MODEL           = var.chat_model
      DOCSBOT_RESPOND_MAX_ATTEMPTS = tostring(var.tasks_max_attempts)
    })

    dynamic "secret_environment_variables" {
      for_each = local.secret_env.respond
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = google_secret_manager_secret.secret[secret_environment_variables.value].secret_id
        version    = "latest"
      }
    }
  }

  depends_on = [google_secret_manager_secret_iam_member.reader, google_project_iam_member.role]
}

# --- ingest: documents pushed by CI, callable by the listed service accounts only -----------------------------

resource "google_cloudfunctions2_function" "ingest" {
  #checkov:skip=CKV_GCP_124:Docs CI runs outside Google Cloud; IAM lets only the listed service accounts invoke it.
  name        = local.ingest_name
  location    = var.region
  description = "Ingests batches of documents into a collection; callable by the listed service accounts only."

  build_config {
    runtime         = var.python_runtime
    entry_point     = "ingest"
    service_account = google_service_account.sa["builder"].id

    source {
      storage_source {
        bucket = google_storage_bucket.function_sources.name
        object = google_storage_bucket_object.function_source["ingest"].name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.sa["ingest"].email
    min_instance_count               = 0
    max_instance_count               = 2
    available_memory                 = "1Gi"
    timeout_seconds                  = 540
    ingress_settings                 = "ALLOW_ALL" # CI runs outside Google Cloud; IAM admits the listed accounts only
    all_traffic_on_latest_revision   = true
    max_instance_request_concurrency = 1

    environment_variables = merge(local.index_env, {
      DOCSBOT_STATE                           = "firestore" # the per-collection write lease, shared with the scrape job
      GOOGLE_CLOUD_PROJECT                    = var.project_id
      DOCSBOT_INGEST_ALLOWED_SERVICE_ACCOUNTS = join(",", var.ingest_invoker_service_accounts)
      DOCSBOT_INGEST_AUDIENCE                 = local.ingest_url
      LOG_EXECUTION_ID                        = "true"
    })

    dynamic "secret_environment_variables" {
      for_each = local.secret_env.ingest
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = google_secret_manager_secret.secret[secret_environment_variables.value].secret_id
        version    = "latest"
      }
    }
  }

  depends_on = [google_secret_manager_secret_iam_member.reader, google_project_iam_member.role]
}

resource "google_cloud_run_v2_service_iam_member" "ingest_invoker" {
  for_each = toset(var.ingest_invoker_service_accounts)

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.ingest.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${each.value}"
}
