package server

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"stargate/store"
)

// tokenPrefix starts every Stargate token, so that they are easy to spot
// in logs and secret scanners.
const tokenPrefix = "sgt_"

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func randomString(bytes int) string {
	b := make([]byte, bytes)
	rand.Read(b)
	return b32.EncodeToString(b)
}

var tenantRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$`)

// ValidTenant reports whether name may be a tenant: lower-case letters,
// digits, '.', '_' and '-', 1 to 63 characters.
func ValidTenant(name string) bool { return tenantRE.MatchString(name) }

// MintToken creates a token with a role (and, for users, a tenant),
// stores its hash, and returns the secret, which is shown only once.
func (s *Server) MintToken(ctx context.Context, role store.Role, tenant, name string) (string, store.Token, error) {
	return s.Mint(ctx, TokenRequest{Role: role, Tenant: tenant, Name: name})
}

// Mint creates a token as a TokenRequest asks, stores its hash, and
// returns the secret, which is shown only once. Node credentials are not
// minted here: registration makes them.
func (s *Server) Mint(ctx context.Context, req TokenRequest) (string, store.Token, error) {
	role, tenant, name := req.Role, req.Tenant, req.Name
	var problems []Problem
	if req.NodePrefix != "" && role != store.RoleAgent {
		problems = append(problems, Problem{Field: "node_prefix", Message: "only agent (join) tokens have a node prefix"})
	}
	if len(req.NodePrefix) > 256 || (req.NodePrefix != "" && !strings.HasSuffix(req.NodePrefix, "/")) {
		problems = append(problems, Problem{Field: "node_prefix", Message: "a path of the power tree ending in '/' (abilene/ or abilene/hall-1/), at most 256 characters"})
	}
	switch role {
	case store.RoleUser:
		if !ValidTenant(tenant) {
			problems = append(problems, Problem{Field: "tenant", Message: "a user token needs a tenant: lower-case letters, digits, '.', '_', '-', up to 63"})
		}
	case store.RoleAdmin, store.RoleOperator, store.RoleAgent, store.RoleGrid:
		if tenant != "" {
			problems = append(problems, Problem{Field: "tenant", Message: "only user tokens have a tenant"})
		}
	default:
		problems = append(problems, Problem{Field: "role", Message: "must be admin, operator, user, agent or grid (node credentials come from registering a node)"})
	}
	if len(name) > 128 {
		problems = append(problems, Problem{Field: "name", Message: "at most 128 characters"})
	}
	if len(problems) > 0 {
		return "", store.Token{}, badRequest(problems)
	}
	secret, t := s.newToken(role, tenant, name)
	t.NodePrefix = req.NodePrefix
	if err := s.store.CreateToken(ctx, t); err != nil {
		return "", t, fmt.Errorf("server: mint token: %w", err)
	}
	return secret, t, nil
}

// newToken makes a secret and its token record, not yet stored.
func (s *Server) newToken(role store.Role, tenant, name string) (string, store.Token) {
	id := randomString(5)
	secret := tokenPrefix + id + "_" + randomString(20)
	return secret, store.Token{ID: id, Hash: store.HashSecret(secret), Role: role, Tenant: tenant, Name: name, CreatedAt: s.clock.Now().UTC()}
}

// AdminTokenFile is the file, in the data directory, that holds the first
// admin token.
const AdminTokenFile = "admin.token"

// Bootstrap mints the first admin token when the store has no token yet
// and writes it to dir/admin.token with mode 0600. It returns the file's
// path when it wrote one, "" otherwise.
func (s *Server) Bootstrap(ctx context.Context, dir string) (string, error) {
	toks, err := s.store.Tokens(ctx)
	if err != nil {
		return "", err
	}
	if len(toks) > 0 {
		return "", nil
	}
	return s.writeAdmin(ctx, dir, "bootstrap admin")
}

// ResetAdmin is the break-glass path of an installation whose admin
// tokens are all lost: it mints a new admin token and writes it to
// dir/admin.token (mode 0600), whatever tokens exist, and returns the
// file's path. Other tokens are kept.
func (s *Server) ResetAdmin(ctx context.Context, dir string) (string, error) {
	return s.writeAdmin(ctx, dir, "reset admin")
}

// writeAdmin mints an admin token named name and writes it to
// dir/admin.token.
func (s *Server) writeAdmin(ctx context.Context, dir, name string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("server: %w", err)
	}
	// The file is written (and synced) before the token is stored: a crash
	// between the two leaves a file whose token does not exist yet, and the
	// next start mints again; the other order could leave a stored admin
	// token that nobody holds, and no way in.
	secret, tok := s.newToken(store.RoleAdmin, "", name)
	path := filepath.Join(dir, AdminTokenFile)
	if err := writeFileSync(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("server: write admin token: %w", err)
	}
	if err := s.store.CreateToken(ctx, tok); err != nil {
		os.Remove(path)
		return "", fmt.Errorf("server: mint token: %w", err)
	}
	return path, nil
}

// writeFileSync writes a file through a temporary one, synced and renamed
// into place, so that the file is whole or absent after a crash.
func writeFileSync(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// tokenCache keeps recently seen tokens so that authenticating a request
// does not cost a store read. Tokens are never modified once created.
type tokenCache struct {
	mu sync.Mutex
	m  map[string]cachedToken
}

type cachedToken struct {
	tok store.Token
	exp time.Time
}

const tokenCacheTTL = time.Minute

// maxCachedTokens bounds the token cache: room for a node credential of
// every node of a large fleet and its people, a few tens of MB at most.
const maxCachedTokens = 250_000

// authenticate returns the request's token, or a 401 error. A request
// without an Authorization header may carry the console's session cookie
// instead (see console.go).
func (s *Server) authenticate(r *http.Request) (store.Token, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		if hash, ok := s.sessions.hash(r, s.clock.Now()); ok {
			if err := csrf.Check(r); err != nil {
				return store.Token{}, errorf(http.StatusForbidden, "a cross-origin request may not use the console's session")
			}
			return s.tokenByHash(r, hash)
		}
	}
	// The scheme is case-insensitive (RFC 9110, section 11.1).
	scheme, secret, ok := strings.Cut(h, " ")
	ok = ok && strings.EqualFold(scheme, "Bearer")
	if !ok || !strings.HasPrefix(secret, tokenPrefix) {
		return store.Token{}, errorf(http.StatusUnauthorized, "missing bearer token (Authorization: Bearer sgt_...)")
	}
	return s.tokenByHash(r, store.HashSecret(strings.TrimSpace(secret)))
}

// tokenByHash returns the token whose secret hashes to hash, from the
// cache when it is fresh, or a 401 error.
func (s *Server) tokenByHash(r *http.Request, hash string) (store.Token, error) {
	now := s.clock.Now()
	s.tokens.mu.Lock()
	c, ok := s.tokens.m[hash]
	s.tokens.mu.Unlock()
	if ok && now.Before(c.exp) {
		return c.tok, nil
	}
	tok, err := s.store.TokenByHash(r.Context(), hash)
	if errors.Is(err, store.ErrNotFound) {
		return store.Token{}, errorf(http.StatusUnauthorized, "unknown token")
	}
	if err != nil {
		return store.Token{}, err
	}
	s.tokens.mu.Lock()
	if len(s.tokens.m) > maxCachedTokens {
		clear(s.tokens.m)
	}
	s.tokens.m[hash] = cachedToken{tok: tok, exp: now.Add(tokenCacheTTL)}
	s.tokens.mu.Unlock()
	return tok, nil
}

// roles is a set of roles allowed on a route.
type roles []store.Role

var (
	anyRole = roles{store.RoleAdmin, store.RoleOperator, store.RoleUser, store.RoleAgent, store.RoleNode, store.RoleGrid}
	// gridders post and read grid events: people who run the fleet, and a
	// utility's signal.
	gridders  = roles{store.RoleAdmin, store.RoleOperator, store.RoleGrid}
	people    = roles{store.RoleAdmin, store.RoleOperator, store.RoleUser}
	operators = roles{store.RoleAdmin, store.RoleOperator}
	// joiners register nodes; registration answers a credential for that
	// node alone.
	joiners = roles{store.RoleAdmin, store.RoleOperator, store.RoleAgent}
	// nodeSpeakers speak for a node: its credential (for that node only,
	// see speaksFor) and admins.
	nodeSpeakers = roles{store.RoleAdmin, store.RoleNode}
	adminOnly    = roles{store.RoleAdmin}
)

// speaksFor checks that tok may speak for a node: a node credential only
// for its own node.
func speaksFor(tok store.Token, node string) error {
	if tok.Role == store.RoleNode && tok.Node != node {
		return errorf(http.StatusForbidden, "the credential of node %s may not speak for node %s", tok.Node, node)
	}
	return nil
}

func (rs roles) allow(r store.Role) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

// canSee reports whether tok may see a job of tenant: users see only their
// own tenant's jobs.
func canSee(tok store.Token, tenant string) bool {
	return tok.Role != store.RoleUser || tok.Tenant == tenant
}
