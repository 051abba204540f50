package agent

import (
	"fmt"
	"os/user"
	"strconv"
)

// user is who a job's processes run as (--run-as).
type runUser struct {
	uid, gid uint32
	groups   []uint32
}

// lookupUser finds a user by name or numeric ID, with its groups.
func lookupUser(name string) (*runUser, error) {
	u, err := user.Lookup(name)
	if err != nil {
		if u, err = user.LookupId(name); err != nil {
			return nil, fmt.Errorf("agent: --run-as: no user %q", name)
		}
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("agent: --run-as: user %q has no numeric IDs", name)
	}
	out := &runUser{uid: uint32(uid), gid: uint32(gid)}
	gids, _ := u.GroupIds()
	for _, g := range gids {
		if v, err := strconv.ParseUint(g, 10, 32); err == nil {
			out.groups = append(out.groups, uint32(v))
		}
	}
	return out, nil
}
