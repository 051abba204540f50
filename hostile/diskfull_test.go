package hostile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"stargate/client"
)

// smallDisk mounts a file system of size MiB for the test, or skips where
// the test may not mount one (it needs root and a kernel that lets it
// mount tmpfs: the CI's root does).
func smallDisk(t *testing.T, mib int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a full disk needs a small file system to fill: run as root (CI does), which mounts a tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm", mib), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs for a full disk here (%v: %s); CI's root can", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// fill writes a file until the file system is full.
func fill(t *testing.T, path string) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}

// Row 11: the disk fills under a running server (SQLite). Writes are
// refused with 507 and a Retry-After, saying why, while reads still work;
// once space is freed, writes succeed again without a restart, and every
// job acknowledged before, during and after is there.
func TestRowDiskFull(t *testing.T) {
	disk := smallDisk(t, 32)
	s := start(t, "", "--data", filepath.Join(disk, "data"))
	ctx := context.Background()
	c := client.New(s.url, s.admin)
	acked := 0
	submit := func() (int, http.Header, string) {
		spec := fmt.Sprintf(`{"accelerators":1,"tenant":"acme","name":"j%d","env":{"PAD":"%s"}}`, acked, strings.Repeat("x", 4000))
		req, _ := http.NewRequest("POST", s.url+"/v1/jobs", strings.NewReader(spec))
		req.Header.Set("Authorization", "Bearer "+s.admin)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode == http.StatusCreated {
			acked++
		}
		return res.StatusCode, res.Header, string(b)
	}
	if code, _, body := submit(); code != http.StatusCreated {
		t.Fatalf("before the disk fills: %d %s", code, body)
	}
	fill(t, filepath.Join(disk, "filler"))
	// the store may still have room in its own pages for a while
	var code int
	var hdr http.Header
	var body string
	for i := 0; i < 2000; i++ {
		if code, hdr, body = submit(); code != http.StatusCreated {
			break
		}
	}
	if code != http.StatusInsufficientStorage || hdr.Get("Retry-After") == "" || !strings.Contains(body, "out of disk space") {
		t.Fatalf("a submit on a full disk: %d (Retry-After %q) %s; want 507 saying why, with a Retry-After", code, hdr.Get("Retry-After"), body)
	}
	if _, err := c.Jobs(ctx, client.JobQuery{Limit: 1}); err != nil {
		t.Errorf("a read on a full disk: %v", err)
	}
	if err := os.Remove(filepath.Join(disk, "filler")); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if code, _, body := submit(); code != http.StatusCreated {
			t.Fatalf("a submit once space is freed: %d %s", code, body)
		}
	}
	n := 0
	for after := ""; ; {
		page, err := c.Jobs(ctx, client.JobQuery{After: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.Jobs)
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	if n != acked {
		t.Errorf("%d jobs stored, %d acknowledged", n, acked)
	}
	t.Logf("%d jobs acknowledged around a full disk, all stored", acked)
}
