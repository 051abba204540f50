package storetest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"stargate/store"
)

// span is the chunk of a stream that holds its bytes [from, to), whose
// content is a function of their offsets.
func span(job string, attempt int, node string, from, to int64) store.LogChunk {
	data := make([]byte, to-from)
	for i := range data {
		data[i] = byte('a' + (from+int64(i))%26)
	}
	return store.LogChunk{Job: job, Attempt: attempt, Node: node, Offset: from, Data: data}
}

func text(job string, attempt int, node string, off int64, data string) store.LogChunk {
	return store.LogChunk{Job: job, Attempt: attempt, Node: node, Offset: off, Data: []byte(data)}
}

// showLogs describes chunks without their Seq: "job/attempt/node@offset:data".
func showLogs(cs []store.LogChunk) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%s/%d/%s@%d:%q", c.Job, c.Attempt, c.Node, c.Offset, c.Data)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func seqs(cs []store.LogChunk) []int64 {
	out := make([]int64, len(cs))
	for i, c := range cs {
		out[i] = c.Seq
	}
	return out
}

func mustAppend(t *testing.T, s store.Store, keep int64, chunks ...store.LogChunk) {
	t.Helper()
	if err := s.AppendLogs(context.Background(), chunks, keep); err != nil {
		t.Fatalf("AppendLogs: %v", err)
	}
}

// mustLogs reads chunks and checks that their Seq grows.
func mustLogs(t *testing.T, s store.Store, q store.LogQuery) []store.LogChunk {
	t.Helper()
	cs, err := s.Logs(context.Background(), q)
	if err != nil {
		t.Fatalf("Logs(%+v): %v", q, err)
	}
	for i, c := range cs {
		if c.Seq <= 0 || (i > 0 && c.Seq <= cs[i-1].Seq) {
			t.Fatalf("Logs(%+v): Seq not growing: %v", q, seqs(cs))
		}
	}
	return cs
}

// testLogs: chunks come back in the order they were appended, a retried
// append stores nothing twice, and the query's job, node, cursor and limit
// select.
func testLogs(t *testing.T, s store.Store, _ func() store.Store) {
	ctx := context.Background()
	const a, b = "lab/h/r/k/n1", "lab/h/r/k/n2"
	first := []store.LogChunk{
		text("j1", 1, a, 0, "hello "),
		text("j1", 1, b, 0, "rank 1\n"),
		text("j2", 1, a, 0, "other job\n"),
		text("j1", 1, a, 12, ""), // no data: not stored
		text("j1", 1, a, 6, "world\n"),
	}
	mustAppend(t, s, 0, first...)
	all := mustLogs(t, s, store.LogQuery{Job: "j1"})
	want := `[j1/1/lab/h/r/k/n1@0:"hello " j1/1/lab/h/r/k/n2@0:"rank 1\n" j1/1/lab/h/r/k/n1@6:"world\n"]`
	if showLogs(all) != want {
		t.Fatalf("Logs(j1) =\n %s\nwant\n %s", showLogs(all), want)
	}
	j2 := mustLogs(t, s, store.LogQuery{Job: "j2"})
	if len(j2) != 1 || j2[0].Seq <= all[1].Seq || j2[0].Seq >= all[2].Seq {
		t.Errorf("Seq of j2's chunk %v, between j1's %v in input order?", seqs(j2), seqs(all))
	}

	// A retry stores nothing again, even with other bytes at a stored
	// offset; new chunks of the same append are stored after the rest.
	mustAppend(t, s, 0, first...)
	if again := mustLogs(t, s, store.LogQuery{Job: "j1"}); showLogs(again) != want || fmt.Sprint(seqs(again)) != fmt.Sprint(seqs(all)) {
		t.Errorf("after a retried append: %s %v, want %s %v", showLogs(again), seqs(again), want, seqs(all))
	}
	mustAppend(t, s, 0, text("j1", 1, a, 6, "WORLD\n"), text("j1", 1, a, 12, "bye\n"), text("j1", 2, a, 0, "hello again\n"))
	all = mustLogs(t, s, store.LogQuery{Job: "j1"})
	want = `[j1/1/lab/h/r/k/n1@0:"hello " j1/1/lab/h/r/k/n2@0:"rank 1\n" j1/1/lab/h/r/k/n1@6:"world\n" ` +
		`j1/1/lab/h/r/k/n1@12:"bye\n" j1/2/lab/h/r/k/n1@0:"hello again\n"]`
	if showLogs(all) != want {
		t.Fatalf("after a partly retried append:\n %s\nwant\n %s", showLogs(all), want)
	}
	if all[3].Seq <= j2[0].Seq {
		t.Errorf("Seq %d of a later chunk is not greater than the earlier %d", all[3].Seq, j2[0].Seq)
	}

	check := func(q store.LogQuery, want []store.LogChunk) {
		t.Helper()
		got := mustLogs(t, s, q)
		if showLogs(got) != showLogs(want) || fmt.Sprint(seqs(got)) != fmt.Sprint(seqs(want)) {
			t.Errorf("Logs(%+v) =\n %s %v\nwant\n %s %v", q, showLogs(got), seqs(got), showLogs(want), seqs(want))
		}
	}
	check(store.LogQuery{Job: "j1", Node: b}, all[1:2])
	check(store.LogQuery{Job: "j1", Node: a}, []store.LogChunk{all[0], all[2], all[3], all[4]})
	check(store.LogQuery{Job: "j1", After: all[1].Seq}, all[2:])
	check(store.LogQuery{Job: "j1", After: all[4].Seq}, nil)
	check(store.LogQuery{Job: "j1", Limit: 2}, all[:2])
	check(store.LogQuery{Job: "j1", After: all[0].Seq, Limit: 2}, all[1:3])
	check(store.LogQuery{Job: "j1", Node: a, After: all[0].Seq, Limit: 2}, all[2:4])
	check(store.LogQuery{Job: "j1", Node: "nope"}, nil)
	check(store.LogQuery{Job: "nope"}, nil)
	if _, err := s.Logs(ctx, store.LogQuery{}); err == nil {
		t.Errorf("Logs without a job was answered")
	}
}

// testLogTrim: each stream written to keeps exactly the chunks that end
// within its own last keep bytes; streams not written to keep everything.
func testLogTrim(t *testing.T, s store.Store, _ func() store.Store) {
	const n, m, w = "lab/h/r/k/n1", "lab/h/r/k/n2", "lab/h/r/k/n3"
	// Keep <= 0 keeps everything.
	mustAppend(t, s, 0,
		span("j", 1, n, 0, 10), span("j", 1, n, 10, 29), span("j", 1, n, 29, 30), span("j", 1, n, 30, 31), span("j", 1, n, 31, 40),
		// Other nodes, another attempt, another job.
		span("j", 1, m, 0, 10), span("j", 1, m, 10, 50),
		span("j", 1, w, 0, 20), span("j", 1, w, 20, 34), span("j", 1, w, 34, 50),
		span("j", 2, n, 0, 100),
		span("k", 1, n, 0, 5), span("k", 1, n, 5, 100),
	)
	mustAppend(t, s, -1, span("j", 1, n, 40, 50))
	if got := mustLogs(t, s, store.LogQuery{Job: "j"}); len(got) != 12 {
		t.Fatalf("keep <= 0 trimmed: %d chunks of j left, want 12", len(got))
	}

	// Streams (j 1 n) and (j 1 w) end at 55 and keep what ends after 30;
	// (j 2 n) ends at 110 and keeps what ends after 85.
	trim := []store.LogChunk{span("j", 1, n, 50, 55), span("j", 1, w, 50, 55), span("j", 2, n, 100, 110)}
	mustAppend(t, s, 25, trim...)
	want := showLogs([]store.LogChunk{
		span("j", 1, n, 30, 31), span("j", 1, n, 31, 40), // [29, 30) ends at 30: gone
		span("j", 1, m, 0, 10), span("j", 1, m, 10, 50),
		span("j", 1, w, 20, 34), span("j", 1, w, 34, 50), // [20, 34) straddles 30: kept
		span("j", 2, n, 0, 100),
		span("j", 1, n, 40, 50),
		span("j", 1, n, 50, 55), span("j", 1, w, 50, 55), span("j", 2, n, 100, 110),
	})
	if got := mustLogs(t, s, store.LogQuery{Job: "j"}); showLogs(got) != want {
		t.Errorf("after trimming to 25 bytes:\n %s\nwant\n %s", showLogs(got), want)
	}
	wantK := showLogs([]store.LogChunk{span("k", 1, n, 0, 5), span("k", 1, n, 5, 100)})
	if got := mustLogs(t, s, store.LogQuery{Job: "k"}); showLogs(got) != wantK {
		t.Errorf("another job's stream was trimmed:\n %s\nwant\n %s", showLogs(got), wantK)
	}

	// Retrying the append, or one of a chunk trimmed since, changes nothing.
	mustAppend(t, s, 25, trim...)
	mustAppend(t, s, 25, span("j", 1, n, 0, 10))
	if got := mustLogs(t, s, store.LogQuery{Job: "j"}); showLogs(got) != want {
		t.Errorf("after retries:\n %s\nwant\n %s", showLogs(got), want)
	}
}

// testLogBinary: output is bytes, not text: every byte value round-trips,
// and trimming counts bytes.
func testLogBinary(t *testing.T, s store.Store, _ func() store.Store) {
	const n = "lab/h/r/k/n1"
	up, down := make([]byte, 256), make([]byte, 256)
	for i := range up {
		up[i], down[i] = byte(i), byte(255-i)
	}
	chunks := []store.LogChunk{
		{Job: "j", Attempt: 1, Node: n, Offset: 0, Data: up},
		{Job: "j", Attempt: 1, Node: n, Offset: 256, Data: down},
		{Job: "j", Attempt: 1, Node: n, Offset: 512, Data: []byte{0}},
	}
	mustAppend(t, s, 0, chunks...)
	got := mustLogs(t, s, store.LogQuery{Job: "j"})
	if len(got) != len(chunks) {
		t.Fatalf("%d chunks stored, want %d", len(got), len(chunks))
	}
	for i, c := range got {
		if !bytes.Equal(c.Data, chunks[i].Data) || c.Offset != chunks[i].Offset {
			t.Errorf("chunk %d: offset %d data %x, want offset %d data %x", i, c.Offset, c.Data, chunks[i].Offset, chunks[i].Data)
		}
	}
	// The stream ends at 769 bytes: keeping 257 keeps what ends after
	// 512, keeping 256 what ends after 513. Counting anything but bytes
	// misses one or the other.
	last := store.LogChunk{Job: "j", Attempt: 1, Node: n, Offset: 513, Data: down}
	mustAppend(t, s, 257, last)
	got = mustLogs(t, s, store.LogQuery{Job: "j"})
	if len(got) != 2 || got[0].Offset != 512 || !bytes.Equal(got[0].Data, []byte{0}) || !bytes.Equal(got[1].Data, down) {
		t.Errorf("after trimming to 257 bytes: %s", showLogs(got))
	}
	mustAppend(t, s, 256, last)
	got = mustLogs(t, s, store.LogQuery{Job: "j"})
	if len(got) != 1 || got[0].Offset != 513 || !bytes.Equal(got[0].Data, down) {
		t.Errorf("after trimming to 256 bytes: %s", showLogs(got))
	}
}

// testLogRetryWithMore: an upload whose answer was lost is retried from
// the same offset with more data; the store keeps every byte once.
func testLogRetryWithMore(t *testing.T, s store.Store, _ func() store.Store) {
	mustAppend(t, s, 0, text("jr", 1, "n1", 0, "hello "))
	mustAppend(t, s, 0, text("jr", 1, "n1", 0, "hello world\n"))
	mustAppend(t, s, 0, text("jr", 1, "n1", 0, "hello world\n"), text("jr", 1, "n1", 12, "bye\n"))
	var all []byte
	for _, c := range mustLogs(t, s, store.LogQuery{Job: "jr"}) {
		all = append(all, c.Data...)
	}
	if string(all) != "hello world\nbye\n" {
		t.Errorf("the stream holds %q, want %q", all, "hello world\nbye\n")
	}
}
