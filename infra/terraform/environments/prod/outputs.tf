# The module's outputs, passed through: `terraform output NAME` in this folder prints one (docs/deploy.md uses
# each of them).

output "interactions_url" {
  description = "Paste into the Discord developer portal: General Information, Interactions Endpoint URL."
  value       = module.docsbot.interactions_url
}

output "qdrant_url" {
  description = "Qdrant behind nginx and TLS (QDRANT_URL for docsbot commands run against this deployment)."
  value       = module.docsbot.qdrant_url
}

output "qdrant_ip" {
  description = "The Qdrant VM's static address: the A record of qdrant_domain must point here (null with qdrant_external_url)."
  value       = module.docsbot.qdrant_ip
}

output "qdrant_dns_record" {
  description = "The DNS record to create at your DNS provider (created for you when dns_managed_zone is set)."
  value       = module.docsbot.qdrant_dns_record
}

output "qdrant_vm" {
  description = "Name and zone of the Qdrant VM, for `gcloud compute ssh NAME --zone ZONE --tunnel-through-iap` (null with qdrant_external_url)."
  value       = module.docsbot.qdrant_vm
}

output "tasks_queue_name" {
  description = "The Cloud Tasks queue between interactions and respond."
  value       = module.docsbot.tasks_queue_name
}

output "tasks_queue_path" {
  description = "The queue's full name (DOCSBOT_TASKS_QUEUE)."
  value       = module.docsbot.tasks_queue_path
}

output "respond_url" {
  description = "The respond function's URL (only the tasks service account may call it)."
  value       = module.docsbot.respond_url
}

output "ingest_url" {
  description = "The ingest function's URL, which is also the audience its callers' ID tokens must carry."
  value       = module.docsbot.ingest_url
}

output "scrape_image" {
  description = "The image the scrape job runs: build and push it here (docs/deploy.md, step 5)."
  value       = module.docsbot.scrape_image
}

output "image_repository" {
  description = "The Artifact Registry repository for docsbot images."
  value       = module.docsbot.image_repository
}

output "scrape_job" {
  description = "The Cloud Run job to run a scrape by hand: gcloud run jobs execute NAME --region REGION."
  value       = module.docsbot.scrape_job
}

output "secret_ids" {
  description = "The Secret Manager secrets whose values you add with gcloud (docs/deploy.md, step 4)."
  value       = module.docsbot.secret_ids
}

output "service_accounts" {
  description = "The service account of each workload."
  value       = module.docsbot.service_accounts
}

output "builder_service_account" {
  description = "The service account that builds images (for `gcloud builds submit --service-account`)."
  value       = module.docsbot.builder_service_account
}

output "function_sources_bucket" {
  description = "The bucket holding the uploaded function zips."
  value       = module.docsbot.function_sources_bucket
}
