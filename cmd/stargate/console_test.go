package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The console's tests drive a real Chromium (github.com/chromedp/chromedp)
// against a real server process with simulated agents, and use the
// stargate command itself to submit jobs and read nodes. scripts/test.sh
// installs Debian's chromium where it is missing; elsewhere they skip.

var screenshots = flag.String("screenshots", "", "directory for screenshots of every console page (the console's browser tests)")

// chromium returns the browser to drive, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("STARGATE_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium: install Debian's chromium (scripts/test.sh does as root) or set STARGATE_TEST_CHROMIUM")
	return ""
}

// browser starts a fresh headless Chromium (its own profile, so its own
// cookies) and returns a context for its first tab.
func browser(t *testing.T, exe string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 800))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	return ctx
}

// do runs browser actions, failing the test on error.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// js evaluates an expression in the page (awaiting a promise) and
// returns its value.
func js[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("browser: evaluating %.80q: %v", expr, err)
	}
	return v
}

// waitJS polls a boolean expression in the page until it holds.
func waitJS(t *testing.T, ctx context.Context, what, expr string, limit time.Duration) {
	t.Helper()
	for end := time.Now().Add(limit); ; {
		if js[bool](t, ctx, "!!("+expr+")") {
			return
		}
		if time.Now().After(end) {
			text := js[string](t, ctx, "document.getElementById('main').innerText.slice(0, 2000)")
			t.Fatalf("timed out after %s waiting for %s; the page shows:\n%s", limit, what, text)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// shoot saves a screenshot of the page under -screenshots, if given.
func shoot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if *screenshots == "" {
		return
	}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.MkdirAll(*screenshots, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*screenshots, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// audit runs axe-core's WCAG 2 A and AA rules on the page and fails on
// any violation (missing labels, contrast, names of controls, ...).
func audit(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	src, err := os.ReadFile("testdata/axe/axe.min.js")
	if err != nil {
		t.Fatal(err)
	}
	if !js[bool](t, ctx, "typeof axe !== 'undefined'") {
		js[bool](t, ctx, string(src)+";true")
	}
	out := js[string](t, ctx, `axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
		.then(r => JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
			nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + ": " + n.failureSummary)}))))`)
	if out != "[]" {
		var pretty []any
		json.Unmarshal([]byte(out), &pretty)
		b, _ := json.MarshalIndent(pretty, "", "  ")
		t.Errorf("accessibility violations on the %s page:\n%s", page, b)
	}
}

// consoleFleet is a small fleet of two sites in two regions.
const consoleFleet = "testdata/console.yaml"

// mint makes a token with the stargate command and returns its secret.
func mint(t *testing.T, url, admin string, args ...string) string {
	t.Helper()
	out := cli(t, url, admin, append([]string{"token", "create"}, args...)...)
	m := regexp.MustCompile(`sgt_[a-z0-9_]+`).FindString(out)
	if m == "" {
		t.Fatalf("no token in %q", out)
	}
	return m
}

// submitSpec submits a job spec with `stargate submit` and returns its ID.
func submitSpec(t *testing.T, url, token, spec string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "job.yaml")
	if err := os.WriteFile(f, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	out := cli(t, url, token, "submit", f)
	m := regexp.MustCompile(`submitted (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("submit said %q", out)
	}
	return m[1]
}

func TestConsoleInBrowser(t *testing.T) {
	exe := chromium(t)
	data := t.TempDir()
	srv := startServer(t, "-f", consoleFleet, "--data", data, "--reconcile-every", "500ms")
	admin := readToken(t, data)
	join := mint(t, srv.url, admin, "--role", "agent")
	agents := exec.Command(os.Args[0], "agent", "--simulate", "all", "-f", consoleFleet, "--heartbeat", "1s",
		"--server", srv.url)
	agents.Env = append(os.Environ(), "STARGATE_RUN_MAIN=1", "STARGATE_TOKEN="+join)
	var agentLog strings.Builder
	agents.Stdout, agents.Stderr = &agentLog, &agentLog
	if err := agents.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agents.Process.Kill(); agents.Wait() })
	waitFor(t, "8 nodes registered", 30*time.Second, func() bool {
		return strings.Count(cli(t, srv.url, admin, "nodes"), " ready ") == 8
	})

	t.Run("bad token refused", func(t *testing.T) {
		ctx := browser(t, exe)
		do(t, ctx, chromedp.Navigate(srv.url+"/"), chromedp.WaitVisible(chromedp.CSS("#token")))
		shoot(t, ctx, "signin")
		audit(t, ctx, "sign-in")
		do(t, ctx, chromedp.SendKeys(chromedp.CSS("#token"), "sgt_aaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"), chromedp.Click(chromedp.CSS("#signin button")))
		waitJS(t, ctx, "the refusal", `document.getElementById("signin-msg").textContent.includes("refused")`, 10*time.Second)
		// and a login link with a bad token lands on the sign-in page
		do(t, ctx, chromedp.Navigate(srv.url+"/?login=sgt_nope_nope"))
		waitJS(t, ctx, "the refused link", `document.getElementById("signin-msg") && document.getElementById("signin-msg").textContent.includes("refused") && !location.search.includes("login")`, 10*time.Second)
	})

	t.Run("admin sees the fleet live", func(t *testing.T) {
		ctx := browser(t, exe)
		do(t, ctx, chromedp.Navigate(srv.url+"/?login="+admin))
		waitJS(t, ctx, "both sites", `document.querySelector('#sites tr[data-site="lab"]') && document.querySelector('#sites tr[data-site="mesa"]')`, 15*time.Second)
		where := js[string](t, ctx, "location.href")
		cookies := js[string](t, ctx, "document.cookie + '|' + JSON.stringify(localStorage) + JSON.stringify(sessionStorage)")
		if strings.Contains(where, "sgt_") || strings.Contains(cookies, "sgt_") || strings.Contains(cookies, "stargate_session") {
			t.Errorf("the token or session is visible to the page: url %s, cookie and storage %s", where, cookies)
		}
		drawOf := `document.querySelector('#sites tr[data-site="lab"] td[data-v]').dataset.v`
		before := js[string](t, ctx, drawOf)
		// load the lab: its draw must change on the page without a reload
		js[bool](t, ctx, "window.__marker = 1; true")
		submitSpec(t, srv.url, admin, "name: warm-lab\nsite: lab\naccelerators: 32\nduration_s: 60\ntenant: red\n")
		waitJS(t, ctx, "the lab's draw to change", drawOf+" !== "+fmt.Sprintf("%q", before)+" && window.__marker === 1", 20*time.Second)
		shoot(t, ctx, "fleet")
		audit(t, ctx, "Fleet")
		cli(t, srv.url, admin, "grid", "event", "create", "--scope", "mesa", "--target", "75%", "--duration", "1h", "--notice", "30m")
		for _, page := range []string{"power", "tenants", "events", "nodes"} {
			do(t, ctx, chromedp.Navigate(srv.url+"/#/"+page))
			waitJS(t, ctx, "the "+page+" page", `document.querySelector("#`+page+` table")`, 10*time.Second)
			switch page {
			case "power":
				waitJS(t, ctx, "the grid event", `document.querySelector("#grid-events tr[data-grid-event]")`, 10*time.Second)
			case "tenants":
				waitJS(t, ctx, "the tenants' energy", `document.getElementById("tenant-energy").textContent.length > 0`, 10*time.Second)
			}
			shoot(t, ctx, page)
			audit(t, ctx, page)
		}
		waitJS(t, ctx, "the node table", `document.querySelector("#nodes-table a")`, 10*time.Second)
		do(t, ctx, chromedp.Click(chromedp.CSS("#nodes-table a")))
		waitJS(t, ctx, "a node's telemetry", `document.title.startsWith("Node") && document.querySelector("main table tbody tr")`, 10*time.Second)
		shoot(t, ctx, "node")
		audit(t, ctx, "node")
	})

	t.Run("a submitted job goes pending, running, succeeded", func(t *testing.T) {
		ctx := browser(t, exe)
		do(t, ctx, chromedp.Navigate(srv.url+"/?login="+admin))
		waitJS(t, ctx, "the fleet", `document.querySelector("#sites")`, 15*time.Second)
		do(t, ctx, chromedp.Navigate(srv.url+"/#/jobs"))
		waitJS(t, ctx, "the jobs page", `document.querySelector("#jobs-table")`, 10*time.Second)
		do(t, ctx, chromedp.SetValue(chromedp.CSS("#f-state"), "all"))
		js[bool](t, ctx, `document.getElementById("f-state").dispatchEvent(new Event("change"))`)
		// record every state the page shows for any job, without reloads
		js[bool](t, ctx, `window.__marker = 2; window.__seen = {};
			new MutationObserver(() => document.querySelectorAll("#jobs-table tr[data-job]").forEach(r => {
				(window.__seen[r.dataset.job] = window.__seen[r.dataset.job] || []).includes(r.dataset.state) || window.__seen[r.dataset.job].push(r.dataset.state);
			})).observe(document.getElementById("jobs"), {childList: true, subtree: true}); true`)
		// hold mesa's accelerators for a while, so that the job waits first
		submitSpec(t, srv.url, admin, "name: hold-mesa\nsite: mesa\naccelerators: 32\nduration_s: 8\ntenant: red\n")
		id := submitSpec(t, srv.url, admin, "name: console-job\nsite: mesa\naccelerators: 8\nduration_s: 3\ntenant: blue\n")
		seen := `(window.__seen[` + fmt.Sprintf("%q", id) + `] || [])`
		waitJS(t, ctx, "the job to succeed on the page", seen+`.includes("succeeded") && window.__marker === 2`, 45*time.Second)
		states := js[[]string](t, ctx, seen)
		if strings.Join(states, ",") != "pending,running,succeeded" {
			t.Errorf("the page showed job %s as %v, want pending, running, succeeded", id, states)
		}
		shoot(t, ctx, "jobs")
		audit(t, ctx, "Jobs")
		do(t, ctx, chromedp.Navigate(srv.url+"/#/job/"+id))
		waitJS(t, ctx, "the job page", `document.getElementById("job-state") && document.getElementById("job-state").textContent === "succeeded"`, 10*time.Second)
		shoot(t, ctx, "job")
		audit(t, ctx, "job")
	})

	t.Run("a user sees only its tenant, and no operator buttons", func(t *testing.T) {
		user := mint(t, srv.url, admin, "--role", "user", "--tenant", "blue")
		submitSpec(t, srv.url, admin, "name: red-job\naccelerators: 8\nduration_s: 30\ntenant: red\n")
		submitSpec(t, srv.url, user, "name: blue-job\naccelerators: 8\nduration_s: 30\n")
		ctx := browser(t, exe)
		do(t, ctx, chromedp.Navigate(srv.url+"/?login="+user))
		waitJS(t, ctx, "the fleet", `document.querySelector("#sites")`, 15*time.Second)
		do(t, ctx, chromedp.Navigate(srv.url+"/#/jobs"))
		do(t, ctx, chromedp.SetValue(chromedp.CSS("#f-state"), "all"))
		js[bool](t, ctx, `document.getElementById("f-state").dispatchEvent(new Event("change"))`)
		waitJS(t, ctx, "the blue job", `Array.from(document.querySelectorAll("#jobs-table tbody tr")).some(r => r.cells[1].textContent === "blue-job")`, 10*time.Second)
		tenants := js[[]string](t, ctx, `Array.from(document.querySelectorAll("#jobs-table tbody tr")).map(r => r.cells[2].textContent)`)
		for _, tn := range tenants {
			if tn != "blue" {
				t.Errorf("a blue user sees a job of tenant %q", tn)
			}
		}
		buttons := js[int](t, ctx, `document.querySelectorAll("main button.danger").length`)
		do(t, ctx, chromedp.Navigate(srv.url+"/#/nodes"))
		waitJS(t, ctx, "the nodes", `document.querySelector("#nodes-table tbody tr")`, 10*time.Second)
		nodeButtons := js[int](t, ctx, `document.querySelectorAll("main button").length - document.querySelectorAll("main button.sort").length`)
		if buttons != 0 || nodeButtons != 0 {
			t.Errorf("a user sees operator buttons: %d on jobs, %d on nodes", buttons, nodeButtons)
		}
		do(t, ctx, chromedp.Navigate(srv.url+"/#/events"))
		waitJS(t, ctx, "the journal refused", `document.querySelector("#events .error")`, 10*time.Second)
		shoot(t, ctx, "user-jobs")
	})

	t.Run("an operator drains a node", func(t *testing.T) {
		op := mint(t, srv.url, admin, "--role", "operator")
		ctx := browser(t, exe)
		do(t, ctx, chromedp.Navigate(srv.url+"/?login="+op))
		waitJS(t, ctx, "the fleet", `document.querySelector("#sites")`, 15*time.Second)
		do(t, ctx, chromedp.Navigate(srv.url+"/#/nodes"))
		node := "mesa/hall-a/row/rack-2/n2"
		sel := `#nodes-table tr[data-node="` + node + `"] button`
		waitJS(t, ctx, "the node's drain button", `document.querySelector('`+sel+`')`, 10*time.Second)
		// by keyboard: focus the button and press Enter
		do(t, ctx, chromedp.Focus(chromedp.CSS(sel)), chromedp.KeyEvent("\r"))
		waitFor(t, "stargate nodes to show the node draining", 15*time.Second, func() bool {
			for _, line := range strings.Split(cli(t, srv.url, admin, "nodes"), "\n") {
				if strings.HasPrefix(line, node+" ") {
					return strings.Contains(line, "draining")
				}
			}
			return false
		})
		waitJS(t, ctx, "the page to show it draining", `document.querySelector('#nodes-table tr[data-node="`+node+`"]').dataset.state === "draining"`, 10*time.Second)
	})
	if t.Failed() {
		t.Logf("server log:\n%s\nagents:\n%s", srv.log, agentLog.String())
	}
}
