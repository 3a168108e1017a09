# The resources of the single configuration that infra/terraform was before it became a module and this
# environment: these blocks move them in the state on the first plan, so an existing deployment is not destroyed
# and recreated. They can be deleted once every state has been applied with them (they do nothing afterwards).
# Not moved, because their keys are the listed emails: the ingest invoker bindings (recreated, a second's gap).
# The scrape job's three resources then move on to the module's scheduled-job table (modules/docsbot/moved.tf):
# Terraform follows the chain, from the old root address to the table's key.

moved {
  from = google_project_service.apis
  to   = module.docsbot.google_project_service.apis
}

moved {
  from = google_firestore_database.default
  to   = module.docsbot.google_firestore_database.default
}

moved {
  from = google_firestore_field.interactions_ttl
  to   = module.docsbot.google_firestore_field.interactions_ttl
}

moved {
  from = google_firestore_field.quotas_ttl
  to   = module.docsbot.google_firestore_field.quotas_ttl
}

moved {
  from = google_storage_bucket.function_sources
  to   = module.docsbot.google_storage_bucket.function_sources
}

moved {
  from = google_storage_bucket_object.function_source
  to   = module.docsbot.google_storage_bucket_object.function_source
}

moved {
  from = google_cloudfunctions2_function.interactions
  to   = module.docsbot.google_cloudfunctions2_function.function["interactions"]
}

moved {
  from = google_cloudfunctions2_function.respond
  to   = module.docsbot.google_cloudfunctions2_function.function["respond"]
}

moved {
  from = google_cloudfunctions2_function.ingest
  to   = module.docsbot.google_cloudfunctions2_function.function["ingest"]
}

moved {
  from = google_cloud_run_v2_service_iam_member.interactions_public
  to   = module.docsbot.google_cloud_run_v2_service_iam_member.invoker["interactions/public"]
}

moved {
  from = google_cloud_run_v2_service_iam_member.respond_invoker_tasks
  to   = module.docsbot.google_cloud_run_v2_service_iam_member.invoker["respond/tasks"]
}

moved {
  from = google_service_account.sa
  to   = module.docsbot.google_service_account.sa
}

moved {
  from = google_secret_manager_secret_iam_member.reader
  to   = module.docsbot.google_secret_manager_secret_iam_member.reader
}

moved {
  from = google_project_iam_member.role
  to   = module.docsbot.google_project_iam_member.role
}

moved {
  from = google_cloud_tasks_queue_iam_member.interactions_enqueue
  to   = module.docsbot.google_cloud_tasks_queue_iam_member.interactions_enqueue
}

moved {
  from = google_service_account_iam_member.interactions_act_as_tasks
  to   = module.docsbot.google_service_account_iam_member.interactions_act_as_tasks
}

moved {
  from = google_compute_network.docsbot
  to   = module.docsbot.google_compute_network.docsbot
}

moved {
  from = google_compute_subnetwork.docsbot
  to   = module.docsbot.google_compute_subnetwork.docsbot
}

moved {
  from = google_compute_firewall.qdrant_web
  to   = module.docsbot.google_compute_firewall.qdrant_web
}

moved {
  from = google_compute_firewall.qdrant_ssh_iap
  to   = module.docsbot.google_compute_firewall.qdrant_ssh_iap
}

moved {
  from = google_compute_firewall.qdrant_ports_deny
  to   = module.docsbot.google_compute_firewall.qdrant_ports_deny
}

moved {
  from = google_compute_address.qdrant
  to   = module.docsbot.google_compute_address.qdrant
}

moved {
  from = google_compute_disk.qdrant_data
  to   = module.docsbot.google_compute_disk.qdrant_data
}

moved {
  from = google_compute_resource_policy.qdrant_snapshots
  to   = module.docsbot.google_compute_resource_policy.qdrant_snapshots
}

moved {
  from = google_compute_disk_resource_policy_attachment.qdrant_snapshots
  to   = module.docsbot.google_compute_disk_resource_policy_attachment.qdrant_snapshots
}

moved {
  from = google_compute_instance.qdrant
  to   = module.docsbot.google_compute_instance.qdrant
}

moved {
  from = google_dns_record_set.qdrant
  to   = module.docsbot.google_dns_record_set.qdrant
}

moved {
  from = google_artifact_registry_repository.images
  to   = module.docsbot.google_artifact_registry_repository.images
}

moved {
  from = google_cloud_run_v2_job.scrape
  to   = module.docsbot.google_cloud_run_v2_job.scrape
}

moved {
  from = google_cloud_run_v2_job_iam_member.scheduler_runs_scrape
  to   = module.docsbot.google_cloud_run_v2_job_iam_member.scheduler_runs_scrape
}

moved {
  from = google_cloud_scheduler_job.scrape
  to   = module.docsbot.google_cloud_scheduler_job.scrape
}

moved {
  from = google_secret_manager_secret.secret
  to   = module.docsbot.google_secret_manager_secret.secret
}

moved {
  from = google_cloud_tasks_queue.respond
  to   = module.docsbot.google_cloud_tasks_queue.respond
}
