# The scheduled jobs were one set of resources each (scheduler.tf and digest.tf) before they became one table
# (local.scheduled_jobs): these blocks move the old addresses onto the table's keys in the state on the next
# plan, so an existing deployment's jobs, grants and schedules are not destroyed and recreated. They can be
# deleted once every state has been applied with them (they do nothing afterwards). A state that still holds the
# former single-folder configuration is moved into the module first (environments/prod/moved.tf), then here.

moved {
  from = google_cloud_run_v2_job.scrape
  to   = google_cloud_run_v2_job.job["scrape"]
}

moved {
  from = google_cloud_run_v2_job_iam_member.scheduler_runs_scrape
  to   = google_cloud_run_v2_job_iam_member.scheduler_runs["scrape"]
}

moved {
  from = google_cloud_scheduler_job.scrape
  to   = google_cloud_scheduler_job.trigger["scrape"]
}

moved {
  from = google_cloud_run_v2_job.digest[0]
  to   = google_cloud_run_v2_job.job["digest"]
}

moved {
  from = google_cloud_run_v2_job_iam_member.scheduler_runs_digest[0]
  to   = google_cloud_run_v2_job_iam_member.scheduler_runs["digest"]
}

moved {
  from = google_cloud_scheduler_job.digest[0]
  to   = google_cloud_scheduler_job.trigger["digest"]
}
