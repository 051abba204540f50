package store

// LogStream names the output of a job's processes on one node in one
// attempt: the chunks that share (Job, Attempt, Node), whose Offsets count
// bytes of that stream.
type LogStream struct {
	Job     string
	Attempt int
	Node    string
}

// streamOf returns the stream c belongs to.
func streamOf(c LogChunk) LogStream {
	return LogStream{Job: c.Job, Attempt: c.Attempt, Node: c.Node}
}

// LogStreams returns the streams that chunks write to, in order of first
// appearance; chunks without data write to none. Backends trim these after
// Store.AppendLogs.
func LogStreams(chunks []LogChunk) []LogStream {
	var out []LogStream
	seen := map[LogStream]bool{}
	for _, c := range chunks {
		if s := streamOf(c); len(c.Data) > 0 && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// NewParts returns what of chunks a store appends to streams that end at
// ends (a stream absent from ends is empty), in order: a chunk ending at
// or before its stream's end is a retry and is dropped; one that overlaps
// the end keeps only its part beyond it, so that an upload retried with
// more data than the first try (whose answer was lost) stores the new
// bytes and none twice. Chunks without data are dropped. Writers append
// each stream in order; a chunk past the end (output trimmed before it
// was shipped) is kept whole.
func NewParts(chunks []LogChunk, ends map[LogStream]int64) []LogChunk {
	out := make([]LogChunk, 0, len(chunks))
	for _, c := range chunks {
		s := streamOf(c)
		end, seen := ends[s]
		cEnd := c.Offset + int64(len(c.Data))
		if len(c.Data) == 0 || (seen && cEnd <= end) {
			continue
		}
		if seen && c.Offset < end {
			c.Data = c.Data[end-c.Offset:]
			c.Offset = end
		}
		out = append(out, c)
		ends[s] = cEnd
	}
	return out
}
