# Least privilege: one service account per workload, each granted only what it uses. The invoker bindings
# (who may call which function or run the job) sit next to what they protect: functions.tf, scheduler.tf. The
# scheduled jobs' accounts, secrets and roles come from their table (local.scheduled_jobs, scheduler.tf).
locals {
  service_accounts = merge({
    interactions = "Runs the interactions function (Discord's endpoint)"
    respond      = "Runs the respond function (answers deferred questions)"
    ingest       = "Runs the ingest function (documents pushed by CI)"
    tasks        = "Identity Cloud Tasks calls the respond function with (OIDC)"
    scheduler    = "Identity Cloud Scheduler starts the scrape job with"
    qdrant       = "The Qdrant VM (reads its two API keys at boot)"
    builder      = "Builds the functions' images with Cloud Build"
    }, var.enable_relay ? { relay = "Runs the gateway relay (queues questions from forum posts)" } : {},
  { for name, job in local.scheduled_jobs : name => job.account })

  # Which secret each workload reads, and the environment variable it arrives in (the scheduled jobs' lines come
  # from their table in scheduler.tf). This map is the only source of the secret grants below and of the secret
  # variables in functions.tf and scheduler.tf, so a workload can read exactly the secrets it is given, no more. The respond function answers questions: it gets the
  # read-only Qdrant key; only the writers (ingest, scrape) get the read-write key. It never gets the Discord
  # bot token: it edits its answers through the interaction token in the webhook URL (docsbot.discord.rest) —
  # unless the gateway relay is enabled (relay.tf): relay questions are answered with channel messages, which
  # need the bot token. The relay itself reads the bot token only.
  secret_env_relay = { DISCORD_BOT_TOKEN = "discord_bot_token" }
  secret_env = merge({
    interactions = {
      DISCORD_PUBLIC_KEY = "discord_public_key"
      DISCORD_BOT_TOKEN  = "discord_bot_token"
    }
    respond = merge({
      DISCORD_PUBLIC_KEY = "discord_public_key"
      OPENAI_API_KEY     = "openai_api_key"
      QDRANT_API_KEY     = "qdrant_read_only_api_key"
    }, var.enable_relay ? local.secret_env_relay : {})
    ingest = {
      OPENAI_API_KEY = "openai_api_key"
      QDRANT_API_KEY = "qdrant_api_key"
    }
    }, var.enable_relay ? { relay = local.secret_env_relay } : {},
  { for name, job in local.scheduled_jobs : name => job.secrets })

  # The VM reads both Qdrant keys at boot to configure Qdrant (not through environment variables).
  qdrant_vm_secrets = ["qdrant_api_key", "qdrant_read_only_api_key"]

  secret_grants = merge(
    merge([
      for workload, env in local.secret_env : {
        for secret in distinct(values(env)) : "${workload}/${secret}" => { workload = workload, secret = secret }
      }
    ]...),
    { for secret in local.qdrant_vm_secrets : "qdrant/${secret}" => { workload = "qdrant", secret = secret } },
  )

  # Project-level roles. Firestore has no finer-grained IAM than the project.
  project_roles = merge({
    interactions = ["roles/datastore.user"]
    respond      = ["roles/datastore.user"]
    ingest       = ["roles/datastore.user"]    # the write lease and page records shared with the scrape job
    qdrant       = ["roles/logging.logWriter"] # startup-script and certbot output in Cloud Logging
    builder = [
      "roles/logging.logWriter",
      "roles/artifactregistry.writer", # pushes the built function images
      "roles/storage.objectViewer",    # reads the uploaded sources
    ]
  }, { for name, job in local.scheduled_jobs : name => job.roles })

  project_grants = merge([
    for workload, roles in local.project_roles : {
      for role in roles : "${workload}/${role}" => { workload = workload, role = role }
    }
  ]...)
}

resource "google_service_account" "sa" {
  for_each = local.service_accounts

  account_id   = "${var.name_prefix}-${each.key}"
  display_name = "docsbot ${each.key}"
  description  = each.value

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_iam_member" "reader" {
  for_each = local.secret_grants

  project   = var.project_id
  secret_id = google_secret_manager_secret.secret[each.value.secret].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.sa[each.value.workload].member
}

resource "google_project_iam_member" "role" {
  for_each = local.project_grants

  project = var.project_id
  role    = each.value.role
  member  = google_service_account.sa[each.value.workload].member
}

# The interactions function creates tasks whose OIDC token is minted for the tasks service account: it may
# add tasks to the one queue and act as that one account, nothing else.
resource "google_cloud_tasks_queue_iam_member" "interactions_enqueue" {
  project  = var.project_id
  location = google_cloud_tasks_queue.respond.location
  name     = google_cloud_tasks_queue.respond.name
  role     = "roles/cloudtasks.enqueuer"
  member   = google_service_account.sa["interactions"].member
}

resource "google_service_account_iam_member" "interactions_act_as_tasks" {
  service_account_id = google_service_account.sa["tasks"].name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.sa["interactions"].member
}
