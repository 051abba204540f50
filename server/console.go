package server

import (
	"embed"
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"stargate/internal/chart"
	"stargate/store"
)

// The console is the web view of the fleet, served at / from assets
// embedded in the binary. It reads only the public /v1 API and the event
// stream. A person signs in with an API token, which the server exchanges
// for a session cookie (HttpOnly, SameSite=Strict): the token never stays
// in the page, in storage or in a URL. Requests that carry the cookie
// are authorized exactly as the token's would be.

//go:embed console
var consoleFiles embed.FS

// sessionCookie names the console's session cookie.
const sessionCookie = "stargate_session"

// sessionTTL is how long a console session lasts without signing in again.
const sessionTTL = 12 * time.Hour

// maxSessions bounds the sessions kept: sign-ins beyond it are refused
// until older ones expire.
const maxSessions = 10_000

// sessions maps a session's secret to the hash of the token it stands
// for, in this replica's memory: a restart, or another replica, asks the
// person to sign in again. The token itself is checked on every request
// as a bearer token is, so a revoked token ends its sessions too.
type sessions struct {
	mu sync.Mutex
	m  map[string]session
}

type session struct {
	hash string // the token's hash
	exp  time.Time
}

// create opens a session for a token's hash and returns its secret.
func (ss *sessions) create(hash string, now time.Time) (string, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.m == nil {
		ss.m = map[string]session{}
	}
	if len(ss.m) >= maxSessions {
		for k, v := range ss.m {
			if !now.Before(v.exp) {
				delete(ss.m, k)
			}
		}
		if len(ss.m) >= maxSessions {
			return "", errorf(http.StatusTooManyRequests, "too many console sessions are open; try again later")
		}
	}
	id := randomString(20)
	ss.m[store.HashSecret(id)] = session{hash: hash, exp: now.Add(sessionTTL)}
	return id, nil
}

// hash returns the token hash of the request's session, if it has a live one.
func (ss *sessions) hash(r *http.Request, now time.Time) (string, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return "", false
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	v, ok := ss.m[store.HashSecret(c.Value)]
	if !ok || !now.Before(v.exp) {
		return "", false
	}
	return v.hash, true
}

// end closes the request's session, if any.
func (ss *sessions) end(r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		ss.mu.Lock()
		delete(ss.m, store.HashSecret(c.Value))
		ss.mu.Unlock()
	}
}

// csrf refuses state-changing browser requests from other origins; only
// requests authenticated by the cookie need it (a bearer token is not
// sent by a browser on its own).
var csrf = http.NewCrossOriginProtection()

// signIn checks a token and opens a session for it: the cookie is set on
// w. It answers the token's role and tenant.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request, secret string) (store.Token, error) {
	secret = strings.TrimSpace(secret)
	if !strings.HasPrefix(secret, tokenPrefix) {
		return store.Token{}, errorf(http.StatusUnauthorized, "that is not a Stargate token (they start with %s)", tokenPrefix)
	}
	hash := store.HashSecret(secret)
	tok, err := s.tokenByHash(r, hash)
	if err != nil {
		return store.Token{}, err
	}
	if tok.Role != store.RoleAdmin && tok.Role != store.RoleOperator && tok.Role != store.RoleUser {
		return store.Token{}, errorf(http.StatusForbidden, "a %s token cannot sign in to the console: use an admin, operator or user token", tok.Role)
	}
	id, err := s.sessions.create(hash, s.clock.Now())
	if err != nil {
		return store.Token{}, err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", MaxAge: int(sessionTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	return tok, nil
}

func (s *Server) createSession(w http.ResponseWriter, r *http.Request) {
	var req SessionRequest
	var tok store.Token
	body, err := readBody(w, r, 64<<10)
	if err == nil {
		if problems := decodeStrict(body, &req); len(problems) > 0 {
			err = badRequest(problems)
		}
	}
	if err == nil {
		tok, err = s.signIn(w, r, req.Token)
	}
	if err != nil {
		status, body := statusOf(err)
		writeJSON(w, status, body)
		return
	}
	writeJSON(w, http.StatusOK, Status{ID: s.cfg.ID, Leader: s.IsLeader(), Epoch: s.epoch.Load(), Role: string(tok.Role),
		Tenant: tok.Tenant, Nodes: len(s.fleet.Nodes), Accels: s.fleet.Accelerators})
}

func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request) {
	if err := csrf.Check(r); err != nil {
		writeJSON(w, http.StatusForbidden, ErrorBody{Error: "cross-origin request refused"})
		return
	}
	s.sessions.end(r)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

// consoleIndex serves the console's page. A login link (/?login=TOKEN,
// as `stargate demo` prints) signs in and redirects to / at once, so the
// token leaves the address bar and the history.
func (s *Server) consoleIndex(w http.ResponseWriter, r *http.Request) {
	if secret := r.URL.Query().Get("login"); secret != "" {
		target := "/"
		if _, err := s.signIn(w, r, secret); err != nil {
			target = "/?signin=refused"
		}
		w.Header().Set("Referrer-Policy", "no-referrer")
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	s.consoleAsset(w, r, "index.html")
}

// consoleFile serves one of the console's embedded assets.
func (s *Server) consoleFile(w http.ResponseWriter, r *http.Request) {
	s.consoleAsset(w, r, r.PathValue("file"))
}

func (s *Server) consoleAsset(w http.ResponseWriter, r *http.Request, name string) {
	data, err := fs.ReadFile(consoleFiles, path.Join("console", path.Clean("/"+name)))
	if name == "chart.js" {
		data, err = []byte(chart.Script), nil // shared with the offline reports
	}
	if errors.Is(err, fs.ErrNotExist) || name == "" {
		writeJSON(w, http.StatusNotFound, ErrorBody{Error: "no such console file: " + name})
		return
	}
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, ErrorBody{Error: err.Error()})
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	w.Write(data)
}
