-- Issue 22 item 6: which process runs a pipeline, so a run whose runner was killed is found and
-- marked abandoned (with the stage it reached) instead of showing "running" for ever.
ALTER TABLE pipeline_runs ADD COLUMN runner_host VARCHAR;
ALTER TABLE pipeline_runs ADD COLUMN runner_pid INTEGER;
