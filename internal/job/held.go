package job

import (
	"strings"

	"github.com/syncer-dev/syncer/internal/membership"
)

// heldSpace is a space read and not yet planned, in the form it waits in
// (for the Directory pass, for the rules): a membership as read costs
// about 175 bytes (its struct and its name, principal, role and state
// strings), here about 50. internal/budget bounds how many are held.
type heldSpace struct {
	name, displayName string
	typ               membership.SpaceType
	members           []heldMember
	// extra keeps, by index, what a few memberships don't share with the
	// rest: an email, a name that isn't the usual one, an unknown role.
	extra map[int]membership.Membership
	// missingEmails: a person is listed without an email, so the
	// Directory must say who the sources' addresses are.
	missingEmails bool
}

// heldMember is one membership: its principal, and its role and state as
// indexes into roles and states (0: in extra).
type heldMember struct {
	principal   membership.Principal
	role, state uint8
	bot         bool
}

var (
	roles  = [...]membership.Role{1: membership.RoleMember, 2: membership.RoleManager, 3: membership.RoleOwner}
	states = [...]membership.State{1: membership.StateJoined, 2: membership.StateInvited}
)

// hold makes the held form of a space as read.
func hold(st *membership.SpaceState) *heldSpace {
	h := &heldSpace{name: st.Name, displayName: st.DisplayName, typ: st.Type, members: make([]heldMember, len(st.Memberships))}
	for i, m := range st.Memberships {
		hm := heldMember{principal: m.Principal, bot: m.Bot}
		for r := 1; r < len(roles); r++ {
			if m.Role == roles[r] {
				hm.role = uint8(r)
			}
		}
		for s := 1; s < len(states); s++ {
			if m.State == states[s] {
				hm.state = uint8(s)
			}
		}
		if m.Email == "" && !m.Bot && !m.Principal.IsGroup() {
			h.missingEmails = true
		}
		if m.Email != "" || !usualName(m.Name, st.Name, m.Principal) || hm.role == 0 || hm.state == 0 {
			if h.extra == nil {
				h.extra = map[int]membership.Membership{}
			}
			h.extra[i] = m
		}
		h.members[i] = hm
	}
	return h
}

// memberName is the usual name of a membership: spaces/X/members/{id}.
func memberName(space string, p membership.Principal) string {
	_, id, _ := strings.Cut(string(p), "/")
	return space + "/members/" + id
}

// usualName: name is memberName(space, p), without building it.
func usualName(name, space string, p membership.Principal) bool {
	_, id, _ := strings.Cut(string(p), "/")
	rest, ok := strings.CutPrefix(name, space)
	return ok && len(rest) == len("/members/")+len(id) && strings.HasPrefix(rest, "/members/") && strings.HasSuffix(rest, id)
}

// state is the space as read again, for planning.
func (h *heldSpace) state() *membership.SpaceState {
	st := &membership.SpaceState{Name: h.name, DisplayName: h.displayName, Type: h.typ, Memberships: make([]membership.Membership, len(h.members))}
	for i, hm := range h.members {
		if m, ok := h.extra[i]; ok {
			st.Memberships[i] = m
			continue
		}
		st.Memberships[i] = membership.Membership{Name: memberName(h.name, hm.principal), Principal: hm.principal,
			Role: roles[hm.role], State: states[hm.state], Bot: hm.bot}
	}
	return st
}
