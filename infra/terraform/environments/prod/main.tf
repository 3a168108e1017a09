# The production environment: one call of the docsbot module (infra/terraform/modules/docsbot). Another
# environment (staging, a second Discord server) is a copy of this folder with its own settings and state.
#
# Values that differ between installations are variables (variables.tf; terraform.tfvars.example shows them);
# this environment's choices (sizes, limits, schedules) are written here. Every argument is described, with its
# validation, in the module's variables.tf.
module "docsbot" {
  source = "../../modules/docsbot"

  # Where it runs.
  project_id          = var.project_id
  region              = var.region
  zone                = var.zone
  name_prefix         = var.name_prefix
  firestore_location  = var.firestore_location
  deletion_protection = var.deletion_protection

  # The Qdrant VM (or, with qdrant_external_url, a Qdrant run elsewhere and no VM).
  qdrant_external_url            = var.qdrant_external_url
  qdrant_domain                  = var.qdrant_domain
  acme_email                     = var.acme_email
  acme_staging                   = false
  qdrant_version                 = "1.19.1"
  qdrant_sha256                  = var.qdrant_sha256
  qdrant_machine_type            = "e2-medium"
  qdrant_boot_disk_size_gb       = 20
  qdrant_data_disk_size_gb       = 20
  qdrant_data_disk_type          = "pd-balanced"
  qdrant_data_disk_snapshot      = var.qdrant_data_disk_snapshot
  qdrant_snapshot_start_time     = "03:00"
  qdrant_snapshot_retention_days = 14
  dns_managed_zone               = var.dns_managed_zone

  # The functions. Relative to this folder: the repository's dist/functions, where scripts/build_functions.sh
  # writes the zips.
  function_source_dir             = "../../../../dist/functions"
  interactions_min_instances      = var.interactions_min_instances
  functions_max_instances         = 20
  respond_memory                  = "1Gi"
  respond_timeout_seconds         = 300
  ingest_invoker_service_accounts = var.ingest_invoker_service_accounts

  # The bot.
  discord_application_id   = var.discord_application_id
  default_collection       = var.default_collection
  staff_role_ids           = var.staff_role_ids
  allowed_guild_ids        = var.allowed_guild_ids
  user_questions_per_hour  = 20
  guild_questions_per_hour = 300
  embedding_model          = "text-embedding-3-large"
  chat_model               = "gpt-4.1-mini"

  # Alerts: the budget (with a billing account) and Discord's endpoint not answering.
  billing_account_id = var.billing_account_id
  monthly_budget     = var.monthly_budget
  alert_emails       = var.alert_emails

  # Cloud Tasks (interactions -> respond).
  tasks = {
    max_attempts              = 9
    min_backoff               = "30s"
    max_backoff               = "120s"
    max_doublings             = 3
    max_retry_duration        = "840s"
    max_dispatches_per_second = 5
    max_concurrent_dispatches = 20
  }

  # The scrape job.
  scrape_image_tag = var.scrape_image_tag
  scrape = {
    task_count  = 1
    parallelism = 1
    schedule    = "0 4 * * *"
    time_zone   = "Etc/UTC"
    timeout     = "3600s"
    memory      = "2Gi"
  }

  # The optional gateway relay: answers new forum posts and mentions without a command (docs/deploy.md).
  enable_relay    = var.enable_relay
  relay_image_tag = var.relay_image_tag

  # The optional weekly digest: the top documentation gaps posted to a staff channel (docs/learning.md).
  digest_enabled    = var.digest_enabled
  digest_channel_id = var.digest_channel_id
  digest_collection = var.digest_collection
  digest_schedule   = "0 9 * * 1" # Mondays, 09:00 UTC
  digest_since      = "7d"
}
