"""Analysis jobs: templates, the runner, executors, the job store and queue."""
