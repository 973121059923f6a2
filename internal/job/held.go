package job

import (
	"slices"
	"strings"

	"github.com/syncer-dev/syncer/internal/membership"
)

// heldSpace is a space read and not yet planned, in the form it waits in
// (for the Directory pass, for the rules): a membership as read costs
// about 175 bytes (its struct and its name, principal, role and state
// strings), here about 50. internal/budget bounds how many are held.
type heldSpace struct {
	// read is the space as read, kept so when its list shows every
	// person's email: it will not wait for the Directory, and a round
	// trip through the compact form would only cost time.
	read              *membership.SpaceState
	name, displayName string
	typ               membership.SpaceType
	members           []heldMember
	// extra keeps, by index, the few memberships that don't fit: a name
	// that isn't the usual one, a role or state not known here.
	extra map[int]membership.Membership
	// missingEmails: a person is listed without an email, so the
	// Directory must say who the sources' addresses are.
	missingEmails bool
	count         int // memberships
	// placed: it holds a place among the spaces read ahead of planning
	// (ahead), until it waits, is planned or fails.
	placed bool
}

// heldMember is one membership: its principal, and its role and state as
// indexes into roles and states (0: in extra).
type heldMember struct {
	principal   membership.Principal
	email       string // as listed (often "")
	role, state uint8
	bot         bool
}

var (
	roles  = [...]membership.Role{1: membership.RoleMember, 2: membership.RoleManager, 3: membership.RoleOwner}
	states = [...]membership.State{1: membership.StateJoined, 2: membership.StateInvited}
)

// hold makes the held form of a space as read.
func hold(st *membership.SpaceState) *heldSpace {
	if !slices.ContainsFunc(st.Memberships, func(m membership.Membership) bool { return m.Email == "" && !m.Bot && !m.Principal.IsGroup() }) {
		return &heldSpace{read: st, count: len(st.Memberships)}
	}
	h := &heldSpace{name: st.Name, displayName: st.DisplayName, typ: st.Type, members: make([]heldMember, len(st.Memberships)), count: len(st.Memberships)}
	for i, m := range st.Memberships {
		hm := heldMember{principal: m.Principal, email: m.Email, bot: m.Bot}
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
		if !usualName(m.Name, st.Name, m.Principal) || hm.role == 0 || hm.state == 0 {
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
	if h.read != nil {
		return h.read
	}
	st := &membership.SpaceState{Name: h.name, DisplayName: h.displayName, Type: h.typ, Memberships: make([]membership.Membership, len(h.members))}
	for i, hm := range h.members {
		if m, ok := h.extra[i]; ok {
			st.Memberships[i] = m
			continue
		}
		st.Memberships[i] = membership.Membership{Name: memberName(h.name, hm.principal), Principal: hm.principal, Email: hm.email,
			Role: roles[hm.role], State: states[hm.state], Bot: hm.bot}
	}
	return st
}
