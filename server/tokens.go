package server

import (
	"net/http"

	"stargate/store"
)

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, _ store.Token) error {
	body, err := readBody(w, r, s.cfg.MaxBody)
	if err != nil {
		return err
	}
	var req TokenRequest
	if ps := decodeStrict(body, &req); len(ps) > 0 {
		return badRequest(ps)
	}
	secret, tok, err := s.Mint(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, TokenCreated{Token: tok, Secret: secret})
	return nil
}

// revokeToken handles DELETE /v1/tokens/{id}. This replica forgets every
// cached token at once; others drop theirs within tokenCacheTTL.
func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, tok store.Token) error {
	id := r.PathValue("id")
	toks, err := s.store.Tokens(r.Context())
	if err != nil {
		return err
	}
	admins, target := 0, store.Token{}
	for _, t := range toks {
		if t.Role == store.RoleAdmin {
			admins++
		}
		if t.ID == id {
			target = t
		}
	}
	if target.ID == "" {
		return errorf(http.StatusNotFound, "no token %s", id)
	}
	if target.Role == store.RoleAdmin && admins == 1 {
		return errorf(http.StatusConflict, "token %s is the last admin token: mint another admin token first (or, locked out, run 'stargate server --reset-admin')", id)
	}
	if err := s.store.DeleteToken(r.Context(), id); err != nil {
		return err
	}
	s.forgetTokens()
	s.log.Info("token revoked", "token", id, "by", tok.ID)
	writeJSON(w, http.StatusOK, map[string]string{"revoked": id})
	return nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, _ store.Token) error {
	toks, err := s.store.Tokens(r.Context())
	if err != nil {
		return err
	}
	if toks == nil {
		toks = []store.Token{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": toks})
	return nil
}

// forgetTokens empties this replica's token cache, after a revocation.
func (s *Server) forgetTokens() {
	s.tokens.mu.Lock()
	clear(s.tokens.m)
	s.tokens.mu.Unlock()
}
