package store

// LogStream names the output of a job's processes on one node in one
// attempt: the chunks that share (Job, Attempt, Node), whose Offsets count
// bytes of that stream.
type LogStream struct {
	Job     string
	Attempt int
	Node    string
}

// Stream returns the stream c belongs to.
func (c LogChunk) Stream() LogStream {
	return LogStream{Job: c.Job, Attempt: c.Attempt, Node: c.Node}
}

// LogStreams returns the streams that chunks write to, in order of first
// appearance; chunks without data write to none. Backends trim these after
// Store.AppendLogs.
func LogStreams(chunks []LogChunk) []LogStream {
	var out []LogStream
	seen := map[LogStream]bool{}
	for _, c := range chunks {
		if s := c.Stream(); len(c.Data) > 0 && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
