# What you need after `terraform apply` (docs/deploy.md uses each of these). `terraform output NAME` prints one.

output "interactions_url" {
  description = "Paste into the Discord developer portal: General Information, Interactions Endpoint URL."
  value       = google_cloudfunctions2_function.function["interactions"].url
}

output "qdrant_url" {
  description = "Qdrant behind nginx and TLS (QDRANT_URL for docsbot commands run against this deployment)."
  value       = local.qdrant_url
}

output "qdrant_ip" {
  description = "The Qdrant VM's static address: the A record of qdrant_domain must point here (null with qdrant_external_url)."
  value       = one(google_compute_address.qdrant[*].address)
}

output "qdrant_dns_record" {
  description = "The DNS record to create at your DNS provider (created for you when dns_managed_zone is set)."
  value = local.qdrant_vm_count == 0 ? "none: Qdrant runs at ${var.qdrant_external_url}" : (
    var.dns_managed_zone == ""
    ? "${var.qdrant_domain}. 300 IN A ${google_compute_address.qdrant[0].address}  (create it at your DNS provider)"
    : "${var.qdrant_domain}. A ${google_compute_address.qdrant[0].address}  (managed by Terraform in ${var.dns_managed_zone})"
  )
}

output "qdrant_vm" {
  description = "Name and zone of the Qdrant VM, for `gcloud compute ssh NAME --zone ZONE --tunnel-through-iap` (null with qdrant_external_url)."
  value       = one([for vm in google_compute_instance.qdrant : { name = vm.name, zone = vm.zone }])
}

output "tasks_queue_name" {
  description = "The Cloud Tasks queue between interactions and respond."
  value       = google_cloud_tasks_queue.respond.name
}

output "tasks_queue_path" {
  description = "The queue's full name (DOCSBOT_TASKS_QUEUE)."
  value       = local.tasks_queue_path
}

output "respond_url" {
  description = "The respond function's URL (only the tasks service account may call it)."
  value       = local.respond_url
}

output "ingest_url" {
  description = "The ingest function's URL, which is also the audience its callers' ID tokens must carry."
  value       = local.ingest_url
}

output "scrape_image" {
  description = "The image the scrape job runs: build and push it here (docs/deploy.md, step 4)."
  value       = local.scrape_image
}

output "image_repository" {
  description = "The Artifact Registry repository for docsbot images."
  value       = local.image_repository
}

output "scrape_job" {
  description = "The Cloud Run job to run a scrape by hand: gcloud run jobs execute NAME --region REGION."
  value       = { name = google_cloud_run_v2_job.job["scrape"].name, region = var.region }
}

output "secret_ids" {
  description = "The Secret Manager secrets whose values you add with gcloud (docs/deploy.md, step 3)."
  value       = { for key, secret in google_secret_manager_secret.secret : key => secret.secret_id }
}

output "service_accounts" {
  description = "The service account of each workload."
  value       = { for key, account in google_service_account.sa : key => account.email }
}

output "builder_service_account" {
  description = "The service account that builds images (for `gcloud builds submit --service-account`)."
  value       = google_service_account.sa["builder"].id
}

output "function_sources_bucket" {
  description = "The bucket holding the uploaded function zips."
  value       = google_storage_bucket.function_sources.name
}
