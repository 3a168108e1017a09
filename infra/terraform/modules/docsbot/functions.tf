# The three Cloud Functions (2nd gen), generated from one table (local.functions below). Their sources are the
# zips scripts/build_functions.sh writes (main.py, the vendored docsbot package, a requirements.txt holding only what that function imports, and the
# collections file). An object's name carries the zip's MD5, so a rebuilt zip redeploys its function and an
# unchanged one does not (the build script writes byte-identical zips for identical inputs).
locals {
  function_zip_dir = startswith(var.function_source_dir, "/") ? var.function_source_dir : "${path.root}/${var.function_source_dir}"

  # Where the collections file sits inside each zip once deployed (Cloud Functions unpack sources in /workspace).
  collections_file = "/workspace/collections.toml"

  # The three functions are one resource block (for_each), so no function's settings may refer to another
  # function's attributes (that would be a cycle): names and URLs that functions pass to each other are built
  # from the names here. Cloud Functions gives every function https://REGION-PROJECT.cloudfunctions.net/NAME.
  function_base_url = "https://${var.region}-${var.project_id}.cloudfunctions.net"
  tasks_queue_name  = "${var.name_prefix}-respond"
  tasks_queue_path  = "projects/${var.project_id}/locations/${var.region}/queues/${local.tasks_queue_name}"

  # The queue (tasks.tf) is not part of that block, so it routes every task to the URL the respond function
  # really got; the URL interactions puts in a task is overridden by the queue anyway (uri_override ALWAYS).
  respond_url  = google_cloudfunctions2_function.function["respond"].service_config[0].uri
  respond_host = trimsuffix(trimprefix(local.respond_url, "https://"), "/")

  # The ingest function checks the audience of callers' ID tokens against its own URL, which it cannot read
  # from its own resource: this is the URL Cloud Functions gives it.
  ingest_url = "${local.function_base_url}/${var.name_prefix}-ingest"

  # The settings both Discord-facing functions read (docsbot.settings.bot).
  bot_env = {
    DISCORD_APPLICATION_ID           = var.discord_application_id
    DOCSBOT_STATE                    = "firestore"
    GOOGLE_CLOUD_PROJECT             = var.project_id
    DOCSBOT_DEFAULT_COLLECTION       = var.default_collection
    DOCSBOT_STAFF_ROLES              = join(",", var.staff_role_ids)
    DOCSBOT_ALLOWED_GUILDS           = join(",", var.allowed_guild_ids)
    DOCSBOT_USER_QUESTIONS_PER_HOUR  = tostring(var.user_questions_per_hour)
    DOCSBOT_GUILD_QUESTIONS_PER_HOUR = tostring(var.guild_questions_per_hour)
    LOG_EXECUTION_ID                 = "true"
    # Both Discord-facing functions read the collections file baked into their zip: the one source of truth
    # for the collections and the channel map (nothing to sync into Firestore).
    DOCSBOT_COLLECTIONS_FILE = local.collections_file
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

# --- The three functions, generated from one table -------------------------------------------------------------
#
# Everything that differs between the functions is in local.functions; the resources below are the same for all
# three. `secrets` comes from local.secret_env (iam.tf), so the secret grants and the secret variables can never
# disagree; `invokers` is the complete list of who may call the function (key: a static label, value: the
# IAM member), and nobody else gets roles/run.invoker on it.
locals {
  functions = {
    # Discord's endpoint: public (Discord calls it from anywhere; every request's Ed25519 signature is checked
    # before anything else happens), kept warm because Discord gives it 3 seconds.
    interactions = {
      description   = "Discord interactions endpoint: verifies signatures, answers at once or defers to respond."
      entry_point   = "interactions"
      source_zip    = "interactions.zip"
      memory        = "512Mi"
      timeout       = 30
      min_instances = var.interactions_min_instances
      max_instances = var.functions_max_instances
      secrets       = local.secret_env.interactions
      invokers      = { public = "allUsers" }
      env = merge(local.bot_env, {
        DOCSBOT_QUEUE                 = "cloudtasks"
        DOCSBOT_TASKS_QUEUE           = local.tasks_queue_path
        DOCSBOT_RESPOND_URL           = "${local.function_base_url}/${var.name_prefix}-respond"
        DOCSBOT_TASKS_SERVICE_ACCOUNT = google_service_account.sa["tasks"].email
      })
    }

    # Answers deferred questions: called by Cloud Tasks only, with an OIDC token of the tasks account (tasks.tf).
    respond = {
      description   = "Answers deferred Discord questions; called by Cloud Tasks only."
      entry_point   = "respond"
      source_zip    = "respond.zip"
      memory        = var.respond_memory
      timeout       = var.respond_timeout_seconds
      min_instances = 0
      max_instances = var.functions_max_instances
      secrets       = local.secret_env.respond
      invokers      = { tasks = google_service_account.sa["tasks"].member }
      env = merge(local.bot_env, local.index_env, {
        DOCSBOT_CHAT_MODEL           = var.chat_model
        DOCSBOT_RESPOND_MAX_ATTEMPTS = tostring(var.tasks.max_attempts)
        # Each attempt budgets its work to the function's real timeout (decision 0017).
        DOCSBOT_RESPOND_TIMEOUT_SECONDS = tostring(var.respond_timeout_seconds)
      })
    }

    # Documents pushed by CI: callable by the listed service accounts only.
    ingest = {
      description   = "Ingests batches of documents into a collection; callable by the listed service accounts only."
      entry_point   = "ingest"
      source_zip    = "ingest.zip"
      memory        = "1Gi"
      timeout       = 540
      min_instances = 0
      max_instances = 2
      secrets       = local.secret_env.ingest
      invokers      = { for email in var.ingest_invoker_service_accounts : email => "serviceAccount:${email}" }
      env = merge(local.index_env, {
        DOCSBOT_STATE                           = "firestore" # the per-collection write lease, shared with the scrape job
        GOOGLE_CLOUD_PROJECT                    = var.project_id
        DOCSBOT_INGEST_ALLOWED_SERVICE_ACCOUNTS = join(",", var.ingest_invoker_service_accounts)
        DOCSBOT_INGEST_AUDIENCE                 = local.ingest_url
        LOG_EXECUTION_ID                        = "true"
      })
    }
  }

  # One entry per (function, invoker): the only roles/run.invoker grants on the functions.
  function_invokers = merge([
    for name, function in local.functions : {
      for label, member in function.invokers : "${name}/${label}" => { function = name, member = member }
    }
  ]...)
}

resource "google_storage_bucket_object" "function_source" {
  for_each = local.functions

  bucket = google_storage_bucket.function_sources.name
  name   = "functions/${each.key}-${filemd5("${local.function_zip_dir}/${each.value.source_zip}")}.zip"
  source = "${local.function_zip_dir}/${each.value.source_zip}"
}

resource "google_cloudfunctions2_function" "function" {
  #checkov:skip=CKV_GCP_124:Discord (interactions), Cloud Tasks (respond) and docs CI outside Google Cloud (ingest) reach the functions over the internet: internal-only ingress would refuse them. IAM admits only each function's listed invokers, and interactions verifies every request's Ed25519 signature.
  for_each = local.functions

  name        = "${var.name_prefix}-${each.key}"
  location    = var.region
  description = each.value.description

  build_config {
    runtime         = var.python_runtime
    entry_point     = each.value.entry_point
    service_account = google_service_account.sa["builder"].id

    source {
      storage_source {
        bucket = google_storage_bucket.function_sources.name
        object = google_storage_bucket_object.function_source[each.key].name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.sa[each.key].email
    min_instance_count               = each.value.min_instances
    max_instance_count               = each.value.max_instances
    available_memory                 = each.value.memory
    timeout_seconds                  = each.value.timeout
    ingress_settings                 = "ALLOW_ALL" # see the checkov skip above: IAM decides who gets in
    all_traffic_on_latest_revision   = true
    max_instance_request_concurrency = 1
    environment_variables            = each.value.env

    dynamic "secret_environment_variables" {
      for_each = each.value.secrets
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

resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = local.function_invokers

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.function[each.value.function].name
  role     = "roles/run.invoker"
  member   = each.value.member
}
