// Package trace reads recorded workloads and makes synthetic ones: the
// jobs (and inference requests) that the simulator replays on a fleet.
//
// Readers: ITP 2021 training jobs (job_id,submission_time,duration,num_gpu),
// Azure LLM inference requests (TIMESTAMP,ContextTokens,GeneratedTokens),
// and any CSV with a column mapping. Bad rows are skipped and counted, with
// the first few line numbers kept for the report, or fail the read in
// strict mode. Synthetic workloads draw from a seeded generator: the same
// seed gives the same jobs. Nothing here reads a clock.
package trace
