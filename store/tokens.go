package store

import "fmt"

// CheckNodeToken returns why Store.SetNodeToken must refuse t, or nil: a
// node credential has role node and names its node.
func CheckNodeToken(t Token) error {
	if t.Role != RoleNode {
		return fmt.Errorf("store: token %s has role %q, not a node credential", t.ID, t.Role)
	}
	if t.Node == "" {
		return fmt.Errorf("store: node credential %s names no node", t.ID)
	}
	return nil
}
